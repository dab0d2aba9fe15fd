import type { Context, Results, StageName } from './context.ts';
import { describeError } from './errors.ts';
import { type Log, LogFloor } from './log.ts';

export interface Stage<N extends StageName = StageName> {
  name: N;
  /** Stages whose results this one reads; when one of them is skipped, so is this one. */
  needs: readonly StageName[];
  /** Stages that must have ended (run or skipped) first, whose results this one may read if present. */
  after?: readonly StageName[];
  /** A reason not to run, or undefined to run. */
  skip?: (ctx: Context) => string | undefined;
  run: (ctx: Context, log: Log) => Promise<Results[N]>;
}

export interface Timing {
  stage: StageName;
  status: 'ok' | 'failed' | 'skipped' | 'not run';
  /** Milliseconds since the process started. */
  start: number;
  end: number;
  note?: string;
}

export class StageFailure extends Error {
  constructor(
    readonly stage: StageName,
    readonly original: unknown,
  ) {
    super(`${stage}: ${describeError(original)}`, { cause: original });
    this.name = 'StageFailure';
  }
}

/** Declares a stage with its result type tied to its name. */
export const stage = <N extends StageName>(definition: Stage<N>): Stage<N> => definition;

/** What one pipeline run keeps while its stages run. */
interface PipelineRun {
  ctx: Context;
  abort: AbortController;
  timings: Timing[];
  floor: LogFloor;
  ended: Map<StageName, Timing['status']>;
  failure: StageFailure | undefined;
}

const now = () => Math.round(performance.now());

/** Runs one stage (or records why it is skipped); the first failure aborts the run through ctx.signal. */
async function runOne(run: PipelineRun, s: Stage): Promise<void> {
  const { ctx, timings, ended } = run;
  // The stage's own reason (e.g. "dry run") says more than the dependency it would also miss.
  const skippedNeed = s.needs.find((dep) => ended.get(dep) !== 'ok');
  const reason = s.skip?.(ctx) ?? (skippedNeed ? `needs ${skippedNeed}, which did not run` : undefined);
  const start = now();
  if (reason !== undefined) {
    timings.push({ stage: s.name, status: 'skipped', start, end: start, note: reason });
    ended.set(s.name, 'skipped');
    run.floor.sink.debug(`${s.name}: skipped (${reason})`);
    return;
  }
  const log = run.floor.open(s.name);
  try {
    (ctx.results as Record<string, unknown>)[s.name] = await s.run(ctx, log);
    const end = now();
    log.debug(`${s.name} took ${end - start} ms`);
    timings.push({ stage: s.name, status: 'ok', start, end });
    ended.set(s.name, 'ok');
  } catch (error) {
    timings.push({ stage: s.name, status: 'failed', start, end: now() });
    ended.set(s.name, 'failed');
    if (!run.failure && !ctx.signal.aborted) {
      run.failure = new StageFailure(s.name, error);
      log.info(`✗ ${run.failure.message}`);
      run.abort.abort(run.failure);
    }
  } finally {
    log.close();
  }
}

/**
 * Runs every stage as soon as what it depends on has ended, so independent stages overlap.
 * The first failure aborts the rest (through ctx.signal) and is thrown as a StageFailure.
 */
export async function runPipeline(
  ctx: Context,
  stages: readonly Stage[],
  abort: AbortController,
  timings: Timing[],
  floor: LogFloor = new LogFloor(),
): Promise<void> {
  const byName = new Map(stages.map((s) => [s.name, s]));
  for (const s of stages) {
    for (const dep of [...s.needs, ...(s.after ?? [])]) {
      if (!byName.has(dep)) throw new Error(`internal: stage '${s.name}' depends on unknown stage '${dep}'`);
    }
  }
  const run: PipelineRun = { ctx, abort, timings, floor, ended: new Map(), failure: undefined };
  const running = new Map<StageName, Promise<void>>();
  while (run.ended.size < stages.length) {
    if (!run.failure && !ctx.signal.aborted) {
      for (const s of stages) {
        if (run.ended.has(s.name) || running.has(s.name)) continue;
        if ([...s.needs, ...(s.after ?? [])].every((dep) => run.ended.has(dep))) {
          running.set(
            s.name,
            runOne(run, s).finally(() => running.delete(s.name)),
          );
        }
      }
    }
    if (running.size === 0) break;
    await Promise.race(running.values());
  }
  for (const s of stages) {
    if (!run.ended.has(s.name)) timings.push({ stage: s.name, status: 'not run', start: 0, end: 0 });
  }
  if (run.failure) throw run.failure;
  // Aborted from outside (the job was cancelled) with no stage failing first: the reason is the failure.
  if (ctx.signal.aborted) throw ctx.signal.reason;
}

/** The skip rule of every stage that talks to the network or writes anywhere: a dry run does neither. */
export const remoteOnly = (ctx: Context): string | undefined => (ctx.inputs.dryRun ? 'dry run' : undefined);
