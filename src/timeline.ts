import type { Stage, Timing } from './pipeline.ts';

/** What the stage graph says about one stage: the stages that had to end before it could start. */
export type Graph = readonly Pick<Stage, 'name' | 'needs' | 'after'>[];

/** The chain of stages that decided when the run ended. */
export interface CriticalPath {
  /** First to last; each one started when the one before it ended (and released it last). */
  stages: Timing[];
  /** Their durations summed: how long the run would take if nothing but this chain cost anything. */
  ms: number;
}

const duration = (t: Timing): number => t.end - t.start;
const happened = (t: Timing): boolean => t.status !== 'not run';

/** The later-ending timing; on a tie the longer one, since it held the clock longer. */
const later = (a: Timing, b: Timing): Timing =>
  b.end > a.end || (b.end === a.end && duration(b) > duration(a)) ? b : a;

/**
 * Walks back from the stage that ended last, each time to the dependency (`needs` or `after`) that ended
 * last, i.e. the one the stage actually waited for, until a stage that waited for none.
 */
export function criticalPath(timings: readonly Timing[], graph: Graph): CriticalPath {
  const byStage = new Map(timings.filter(happened).map((t) => [t.stage as string, t]));
  const deps = new Map(graph.map((s) => [s.name as string, [...s.needs, ...(s.after ?? [])] as string[]]));
  let current = [...byStage.values()].reduce<Timing | undefined>((a, b) => (a ? later(a, b) : b), undefined);
  const chain: Timing[] = [];
  const seen = new Set<string>();
  while (current && !seen.has(current.stage)) {
    seen.add(current.stage);
    chain.unshift(current);
    const released = (deps.get(current.stage) ?? []).flatMap((name) => byStage.get(name) ?? []);
    current = released.reduce<Timing | undefined>((a, b) => (a ? later(a, b) : b), undefined);
  }
  return { stages: chain, ms: chain.reduce((sum, t) => sum + duration(t), 0) };
}

/** Every stage's duration summed: what running them one after another, as the composite did, would take. */
export const sequentialMs = (timings: readonly Timing[]): number =>
  timings.filter(happened).reduce((sum, t) => sum + duration(t), 0);

/** When the last stage ended, in ms since the process started. */
export const lastEnd = (timings: readonly Timing[]): number =>
  timings.filter(happened).reduce((max, t) => Math.max(max, t.end), 0);

/**
 * A text Gantt bar of `width` cells over [0, total] ms: `mark` where the stage ran (at least one cell when it
 * ran at all), `·` elsewhere. A skipped stage is all dots.
 */
export function ganttBar(t: Timing, total: number, width: number, mark = '█'): string {
  if (!happened(t) || t.status === 'skipped' || total <= 0) return '·'.repeat(width);
  const from = Math.min(width - 1, Math.floor((t.start / total) * width));
  const to = Math.max(from + 1, Math.min(width, Math.ceil((t.end / total) * width)));
  return '·'.repeat(from) + mark.repeat(to - from) + '·'.repeat(width - to);
}
