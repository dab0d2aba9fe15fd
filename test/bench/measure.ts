// One measured run of the bundle: wall time and peak memory of the main step from outside, stage timings
// from the job summary the action wrote (where a runner shows them).
import { readFile } from 'node:fs/promises';
import type { Timing } from '../../src/pipeline.ts';
import { STAGES } from '../../src/stages/index.ts';
import { criticalPath, sequentialMs } from '../../src/timeline.ts';
import { type RunOptions, type RunResult, runAction } from '../harness/run-action.ts';
import type { Service } from './bound.ts';

export interface Measured {
  /** Main step, from spawn to exit, in ms. */
  wallMs: number;
  /** Every stage's duration summed: the strictly sequential run. */
  sequentialMs: number;
  criticalPathMs: number;
  criticalPath: string[];
  /** From the process start to the first stage's start, as the action's own clock saw it. */
  firstStageMs: number;
  /** Highest resident set of the main step's process (VmHWM), in MB. */
  peakRssMb: number;
  /** Post step, from spawn to exit, in ms. */
  postWallMs: number;
  timings: Timing[];
  /** Requests the world counted during the run, per service (set by the bench, which holds the world). */
  requests?: Record<Service, number>;
  result: RunResult;
}

const STATUS: Record<string, Timing['status']> = {
  ok: 'ok',
  failed: 'failed',
  skipped: 'skipped',
  'not run': 'not run',
};

/** The stage table of the job summary: stage, status, start, duration (seconds with two decimals). */
export function timingsFromSummary(summary: string): Timing[] {
  const rows = summary.matchAll(
    /<tr><td>([a-z-]+)<\/td><td>[^<a-z]*(ok|failed|skipped|not run)<\/td><td>([\d.]+ s| )<\/td><td>([\d.]+ s| )<\/td>/g,
  );
  return [...rows].map(([, stage = '', status = '', start = '', duration = '']) => {
    const from = start.trim() ? Math.round(Number.parseFloat(start) * 1000) : 0;
    const took = duration.trim() ? Math.round(Number.parseFloat(duration) * 1000) : 0;
    return { stage, status: STATUS[status] ?? 'not run', start: from, end: from + took } as Timing;
  });
}

/** VmHWM of a live process in MB, or undefined once it is gone. */
async function highWaterMb(pid: number): Promise<number | undefined> {
  try {
    const kb = /VmHWM:\s+(\d+) kB/.exec(await readFile(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb ? Number(kb) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Runs main and post as the runner does and measures them. */
export async function measure(options: RunOptions): Promise<Measured> {
  const walls: Record<string, number> = {};
  let peak = 0;
  const sampling: Promise<void>[] = [];
  const result = await runAction({
    ...options,
    onSpawn(script, child) {
      const started = performance.now();
      child.on('exit', () => {
        walls[script] = performance.now() - started;
      });
      const pid = child.pid;
      if (script !== 'dist/index.js' || pid === undefined) return;
      // VmHWM only grows, so the last reading before exit is the peak (within one sampling interval).
      sampling.push(
        (async () => {
          for (let mb = await highWaterMb(pid); mb !== undefined; mb = await highWaterMb(pid)) {
            peak = Math.max(peak, mb);
            await new Promise((resolve) => setTimeout(resolve, 10));
          }
        })(),
      );
    },
  });
  await Promise.all(sampling);
  if (result.code !== 0) {
    throw new Error(
      `the bake failed (exit ${result.code}): ${result.failure}\n${result.stdout}\n${result.stderr}`,
    );
  }
  const timings = timingsFromSummary(result.summary);
  const ran = timings.filter((t) => t.status !== 'not run');
  if (ran.length === 0) throw new Error(`no stage timings in the job summary:\n${result.summary}`);
  const path = criticalPath(timings, STAGES);
  return {
    wallMs: walls['dist/index.js'] ?? Number.NaN,
    sequentialMs: sequentialMs(timings),
    criticalPathMs: path.ms,
    criticalPath: path.stages.map((t) => t.stage),
    firstStageMs: Math.min(...ran.map((t) => t.start)),
    peakRssMb: peak,
    postWallMs: walls['dist/post.js'] ?? Number.NaN,
    timings,
    result,
  };
}
