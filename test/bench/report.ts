// The benchmark's figures: medians of the measured runs, each against its target, as a table and as JSON.
import { readFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { ganttBar } from '../../src/timeline.ts';
import { type Bound, derivation, SCENARIOS, type Scenario, type Service, type Starts } from './bound.ts';
import { LATENCY } from './latency.ts';
import type { Measured } from './measure.ts';

export { SCENARIOS, type Scenario };
export type Runs = Record<Scenario, Measured[]>;

export interface Figure {
  name: string;
  value: number;
  unit: string;
  /** `value <= max` passes. */
  max?: number;
  /** `value >= min` passes. */
  min?: number;
}

export interface Context {
  runs: Runs;
  /** `node --version` of the runtime that ran the action. */
  node: string;
  /** An empty process of that node, in the action's environment, from its start to its first line, per sample. */
  nodeStartMs: number[];
  bundleBytes: number;
  postBytes: number;
  /** Share of CPU time the host took from this machine (steal) while the runs ran, in %; absent off Linux. */
  stealPercent: number | undefined;
  /** The 1-minute load average as each measured run started: what else this machine was doing. */
  loadSamples: number[];
  /** Spawn to exit of an empty process of the action's node and of each tool, every sample taken. */
  startSamples: Record<keyof Starts, number[]>;
  /** Each scenario's lower bound, from the model, the stage graph and the median starts. */
  bounds: Record<Scenario, Bound>;
  /** The requests the model expects of each scenario's run, per service. */
  modelRequests: Record<Scenario, Record<Service, number>>;
}

/** Wall / bound targets: how far above its lower bound each scenario's median wall time may be. */
export const WALL_OVER_BOUND: Record<Scenario, number> = { cold: 1.15, warm: 1.1, rerun: 1.15 };
/** Targets are judged on the Node that hosted runners run `using: node20` actions on; older ones are shown. */
export const JUDGED_FROM_NODE = 24;

export const judged = (node: string): boolean => Number(/^v?(\d+)/.exec(node)?.[1] ?? 0) >= JUDGED_FROM_NODE;

/** The median of each start's samples. */
export const medianStarts = (samples: Record<keyof Starts, number[]>): Starts => ({
  node: median(samples.node),
  tbot: median(samples.tbot),
  flux: median(samples.flux),
  cosign: median(samples.cosign),
});

/** The machine's CPU time counters (/proc/stat): all of it, and what the hypervisor stole. */
export interface CpuTimes {
  total: number;
  steal: number;
}

export async function cpuTimes(): Promise<CpuTimes | undefined> {
  try {
    const fields = (await readFile('/proc/stat', 'utf8'))
      .split('\n')[0]
      ?.trim()
      .split(/\s+/)
      .slice(1)
      .map(Number);
    if (!fields || fields.length < 8) return undefined;
    // user nice system idle iowait irq softirq steal; guest time is already counted in user.
    return { total: fields.slice(0, 8).reduce((a, b) => a + b, 0), steal: fields[7] as number };
  } catch {
    return undefined;
  }
}

/** Steal between two readings, in % of all CPU time. */
export function stealPercent(before: CpuTimes | undefined, after: CpuTimes | undefined): number | undefined {
  if (!before || !after || after.total === before.total) return undefined;
  return (100 * (after.steal - before.steal)) / (after.total - before.total);
}

export const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  if (sorted.length === 0) return Number.NaN;
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};

/** The critical path most of a scenario's runs took. */
export function commonPath(runs: readonly Measured[]): string {
  const counts = new Map<string, number>();
  for (const run of runs) {
    const key = run.criticalPath.join(' → ');
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts].sort((a, b) => b[1] - a[1])[0]?.[0] ?? '';
}

export function figures({ runs, nodeStartMs, bundleBytes, postBytes, bounds }: Context): Figure[] {
  const med = (scenario: Scenario, pick: (m: Measured) => number) => median(runs[scenario].map(pick));
  const all = SCENARIOS.flatMap((s) => runs[s]);
  const out: Figure[] = [];
  for (const s of SCENARIOS) {
    const wall = med(s, (m) => m.wallMs);
    out.push(
      { name: `${s}: wall`, value: wall / 1000, unit: 's' },
      { name: `${s}: lower bound (model)`, value: bounds[s].ms / 1000, unit: 's' },
      { name: `${s}: wall / lower bound`, value: wall / bounds[s].ms, unit: '×', max: WALL_OVER_BOUND[s] },
      { name: `${s}: critical path (measured)`, value: med(s, (m) => m.criticalPathMs) / 1000, unit: 's' },
      // What the composite's one-after-another would take; no target (it rewards slowness off the chain).
      { name: `${s}: stages summed / wall`, value: med(s, (m) => m.sequentialMs / m.wallMs), unit: '×' },
    );
  }
  out.push(
    { name: 'dist/index.js', value: bundleBytes / 1e6, unit: 'MB', max: 1.5 },
    { name: 'dist/post.js', value: postBytes / 1e6, unit: 'MB' },
    {
      name: 'process start → first stage',
      value: median(all.map((m) => m.firstStageMs)),
      unit: 'ms',
      max: 250,
    },
    { name: '  of which an empty node process', value: median(nodeStartMs), unit: 'ms' },
    { name: 'peak RSS (highest run)', value: Math.max(...all.map((m) => m.peakRssMb)), unit: 'MB', max: 250 },
    { name: 'peak RSS (median run)', value: median(all.map((m) => m.peakRssMb)), unit: 'MB' },
    { name: 'post step: wall', value: median(all.map((m) => m.postWallMs)), unit: 'ms' },
  );
  return out;
}

export const verdict = (f: Figure): string => {
  if (f.max !== undefined) return f.value <= f.max ? 'pass' : 'FAIL';
  if (f.min !== undefined) return f.value >= f.min ? 'pass' : 'FAIL';
  return '';
};

export const target = (f: Figure): string =>
  f.max !== undefined ? `≤ ${f.max}` : f.min !== undefined ? `≥ ${f.min}` : '';

const shown = (f: Figure): string =>
  `${f.value.toFixed(f.unit === 'ms' || (f.unit === 'MB' && f.value > 10) ? 0 : 2)} ${f.unit}`;

/** The run whose wall time is the scenario's median, as a text timeline. */
function timeline(runs: readonly Measured[]): string[] {
  const sorted = [...runs].sort((a, b) => a.wallMs - b.wallMs);
  const run = sorted[(sorted.length - 1) >> 1];
  if (!run) return [];
  const total = Math.max(...run.timings.map((t) => t.end));
  const onPath = new Set(run.criticalPath);
  return [...run.timings]
    .filter((t) => t.status !== 'not run')
    .sort((a, b) => a.start - b.start)
    .map(
      (t) =>
        `  ${t.stage.padEnd(17)}${`${t.start}`.padStart(6)} ms ${`+${t.end - t.start}`.padStart(6)} ms  ${ganttBar(t, total, 48, onPath.has(t.stage) ? '█' : '▒')}`,
    );
}

/** Each scenario's requests per service as the model counts them against what the world counted (median run). */
export function requestCheck(context: Pick<Context, 'runs' | 'modelRequests'>): string[] {
  return SCENARIOS.map((s) => {
    const model = context.modelRequests[s];
    const services = Object.keys(model) as Service[];
    const counted = (service: Service) =>
      median(context.runs[s].map((m) => m.requests?.[service] ?? Number.NaN));
    const off = services.filter((service) => counted(service) !== model[service]);
    const all = services.map((service) => `${service} ${model[service]}`).join(', ');
    return off.length === 0
      ? `  ${s.padEnd(5)} ✔ as the world counted them: ${all}`
      : `  ${s.padEnd(5)} ✘ the world counted ${off.map((service) => `${service} ${counted(service)} (model ${model[service]})`).join(', ')}: the model's request lists (bound.ts) are out of date`;
  });
}

/**
 * Where each scenario's wall time went beyond its bound: every stage of the bound's chain, its model cost against
 * its median measured duration, and the process's start and end around the stages.
 */
export function overruns(context: Pick<Context, 'runs' | 'bounds'>): string[] {
  const sec = (ms: number) => (ms / 1000).toFixed(2);
  return SCENARIOS.map((s) => {
    const runs = context.runs[s];
    const b = context.bounds[s];
    const took = (stage: string) =>
      median(
        runs.map((m) => {
          const t = m.timings.find((x) => x.stage === stage);
          return t ? t.end - t.start : Number.NaN;
        }),
      );
    const first = median(runs.map((m) => m.firstStageMs));
    const last = median(runs.map((m) => m.wallMs - Math.max(...m.timings.map((t) => t.end))));
    const stages = b.chain.filter((c) => c.ms > 0 || took(c.stage) >= 20);
    const parts = [
      `start → first stage ${sec(b.nodeStartMs)} → ${sec(first)}`,
      ...stages.map((c) => `${c.stage} ${sec(c.ms)} → ${sec(took(c.stage))}`),
      `last stage → exit ${sec(last)}`,
    ];
    return `  ${s.padEnd(5)} ${parts.join(', ')}`;
  });
}

export function print(context: Context, list: readonly Figure[]): void {
  const load = loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');
  for (const s of SCENARIOS) {
    console.log(`\n${s}: the median run (█ critical path, ▒ alongside)`);
    for (const line of timeline(context.runs[s])) console.log(line);
  }
  const starts = medianStarts(context.startSamples);
  console.log(
    `\nprocess starts, spawn to exit (median of ${context.startSamples.node.length}): the action's node ${starts.node.toFixed(0)} ms (empty process), tbot ${starts.tbot.toFixed(0)} ms, flux ${starts.flux.toFixed(0)} ms, cosign ${starts.cosign.toFixed(0)} ms (their version commands)`,
  );
  for (const s of SCENARIOS) console.log(`\n${derivation(context.bounds[s]).join('\n')}`);
  console.log('\nthe chain, model → measured (medians, s):');
  for (const line of overruns(context)) console.log(line);
  console.log('\nrequests per run, per service:');
  for (const line of requestCheck(context)) console.log(line);
  console.log(
    `\nmedians of ${context.runs.cold.length} runs each; the action on node ${context.node}, ${cpus().length} CPUs, load ${Math.min(...context.loadSamples).toFixed(1)}–${Math.max(...context.loadSamples).toFixed(1)} as the runs started (${load} at the end)${context.stealPercent === undefined ? '' : `, ${context.stealPercent.toFixed(0)} % of CPU time taken by the host (steal)`}`,
  );
  if (!judged(context.node)) {
    console.log(
      `(the targets are judged on Node ${JUDGED_FROM_NODE}, which hosted runners run the action on; here they are shown for comparison)`,
    );
  }
  console.log(`${'figure'.padEnd(42)}${'value'.padStart(12)}  ${'target'.padEnd(9)} result`);
  for (const f of list) {
    console.log(`${f.name.padEnd(42)}${shown(f).padStart(12)}  ${target(f).padEnd(9)} ${verdict(f)}`);
  }
  for (const s of SCENARIOS) console.log(`critical path, ${s}: ${commonPath(context.runs[s])}`);
}

/** Everything needed to compare two benchmark runs later. */
export function json(context: Context, list: readonly Figure[]): string {
  return `${JSON.stringify(
    {
      date: new Date().toISOString(),
      node: context.node,
      cpus: cpus().length,
      loadavg: loadavg(),
      loadSamples: context.loadSamples,
      stealPercent: context.stealPercent,
      runs: context.runs.cold.length,
      model: LATENCY,
      figures: list.map((f) => ({ ...f, target: target(f), result: verdict(f) })),
      criticalPaths: Object.fromEntries(SCENARIOS.map((s) => [s, commonPath(context.runs[s])])),
      bounds: Object.fromEntries(
        SCENARIOS.map((s) => [s, { ms: context.bounds[s].ms, derivation: derivation(context.bounds[s]) }]),
      ),
      startSamples: context.startSamples,
      modelRequests: context.modelRequests,
      nodeStartMs: context.nodeStartMs,
      samples: Object.fromEntries(
        SCENARIOS.map((s) => [s, context.runs[s].map(({ result: _result, ...m }) => m)]),
      ),
    },
    null,
    2,
  )}\n`;
}
