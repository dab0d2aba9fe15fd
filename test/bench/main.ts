// `npm run bench`: runs the bundle in the test world under the latency model (latency.ts): on a cold tool
// cache, on a warm one, and again on a finished bake, several times each; derives each scenario's lower bound
// from the model and the stage graph (bound.ts), prints the medians against the targets and writes them to
// .bench/results.json so that runs can be compared. Not part of `npm test`.

import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { STAGES } from '../../src/stages/index.ts';
import { toolArch } from '../../src/tools/assets.ts';
import { inputsFor } from '../harness/bake-world.ts';
import { PRIMARY_REGION, startWorld, TARGETS, type World } from '../world/index.ts';
import { createSampleRepo, type SampleRepo } from '../world/sample-repo.ts';
import { bound, requestsPerService, SCENARIOS, type Service, type Starts, type Tool } from './bound.ts';
import { injectNetworkDelays, LATENCY, latencyWorldOptions } from './latency.ts';
import { type Measured, measure } from './measure.ts';
import { padStandinAssets } from './padded-assets.ts';
import {
  type Context,
  type CpuTimes,
  cpuTimes,
  figures,
  json,
  judged,
  medianStarts,
  print,
  type Runs,
  stealPercent,
  verdict,
} from './report.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const SERVICE = 'sample-service';
const IMAGE = 'sample_service';

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    // Hosted runners run node20 actions on Node 24: point this at one to measure what they see.
    node: { type: 'string', default: process.execPath },
    out: { type: 'string', default: join(ROOT, '.bench', 'results.json') },
  },
});
const RUNS = Number(args.runs);
if (!Number.isInteger(RUNS) || RUNS < 1)
  throw new Error(`--runs must be a positive integer, not ${args.runs}`);

/** The world's counter target of each service the model prices. */
const serviceTargets = (world: World): Record<Service, string> => ({
  sts: TARGETS.sts,
  ecr: TARGETS.ecr,
  registry: TARGETS.registry(world.region),
  teleport: TARGETS.teleport,
  oidc: TARGETS.oidc,
  mirror: TARGETS.mirror,
});

const requestCounts = (world: World): Record<Service, number> => {
  const targets = serviceTargets(world);
  return Object.fromEntries(
    Object.entries(targets).map(([service, target]) => [service, world.counters.get(target)]),
  ) as Record<Service, number>;
};

const loadSamples: number[] = [];

async function bake(world: World, repo: SampleRepo, scratch: string, version: string, toolCache: string) {
  loadSamples.push(loadavg()[0] ?? Number.NaN);
  const before = requestCounts(world);
  const measured = await measure({
    dir: await mkdtemp(join(scratch, `run-${version}-`)),
    toolCache,
    node: args.node,
    timeoutMs: 300_000,
    inputs: { ...inputsFor(world), service: SERVICE, images: IMAGE, tag: version },
    env: { ...world.env(), GITHUB_SERVER_URL: repo.serverUrl, GITHUB_REPOSITORY: repo.repository },
  });
  const after = requestCounts(world);
  const requests = Object.fromEntries(
    Object.entries(after).map(([service, n]) => [service, n - before[service as Service]]),
  ) as Record<Service, number>;
  return { ...measured, requests };
}

/** A new release of the sample service: a commit, its tag, and the image the bake checks for. */
async function release(world: World, repo: SampleRepo, version: string): Promise<void> {
  await repo.commit({ 'kustomization/release.yaml': `release: "${version}"\n` }, `release ${version}`);
  await repo.tag(version);
  await world.seedImage(PRIMARY_REGION, IMAGE, version);
}

/**
 * An empty process of the action's node from its start to its first line, as the action's own clock would
 * count it, with the TLS trust the action gets (Node 20 reads NODE_EXTRA_CA_CERTS, and its roots, at start).
 */
async function nodeStartMs(world: World): Promise<number> {
  const { stdout } = await promisify(execFile)(args.node, ['-e', 'console.log(performance.now())'], {
    env: { PATH: process.env['PATH'], NODE_EXTRA_CA_CERTS: world.caFile },
  });
  return Number(stdout);
}

const line = (scenario: string, i: number, m: Measured) =>
  `run ${i + 1}/${RUNS} ${scenario.padEnd(5)} wall ${(m.wallMs / 1000).toFixed(2)} s, critical path ${(m.criticalPathMs / 1000).toFixed(2)} s, stages summed ${(m.sequentialMs / 1000).toFixed(2)} s, first stage at ${m.firstStageMs} ms, peak RSS ${m.peakRssMb.toFixed(0)} MB`;

/** Spawn to exit of one process, in ms: what starting (and ending) it costs on this machine, now. */
async function spawnToExit(command: string, argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const started = performance.now();
  const child = spawn(command, argv, { env, stdio: 'ignore' });
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`${command} ${argv.join(' ')} exited ${code}`);
  return performance.now() - started;
}

/** Each tool as the warm tool cache holds it, with the command that only prints its version. */
function toolCommands(world: World, toolCache: string): Record<Tool, { path: string; argv: string[] }> {
  const arch = toolArch();
  const v = world.standinVersions;
  const at = (tool: Tool, version: string) => join(toolCache, tool, version, arch, tool);
  return {
    tbot: { path: at('tbot', v.teleport), argv: ['version'] },
    flux: { path: at('flux', v.flux), argv: ['--version'] },
    cosign: { path: at('cosign', v.cosign), argv: ['version'] },
  };
}

/** One sample of each process start the bound adds: the action's node (an empty process) and each tool. */
async function sampleStarts(world: World, toolCache: string, samples: Record<keyof Starts, number[]>) {
  const path = { PATH: process.env['PATH'] };
  samples.node.push(await spawnToExit(args.node, ['-e', ''], { ...path, NODE_EXTRA_CA_CERTS: world.caFile }));
  for (const [tool, { path: binary, argv }] of Object.entries(toolCommands(world, toolCache))) {
    samples[tool as Tool].push(await spawnToExit(binary, argv, path));
  }
}

const scratch = await mkdtemp(join(tmpdir(), 'bake-bench-'));
const world = await startWorld(latencyWorldOptions());
const runs: Runs = { cold: [], warm: [], rerun: [] };
const nodeStarts: number[] = [];
const startSamples: Record<keyof Starts, number[]> = { node: [], tbot: [], flux: [], cosign: [] };
// A shared machine's host can take CPU time from it mid-run; the figures are only comparable when it did not.
let cpuBefore: CpuTimes | undefined;
try {
  process.stdout.write('padding the release assets to their real sizes… ');
  await padStandinAssets(world, LATENCY.assetBytes);
  const repo = await createSampleRepo(join(scratch, 'repo'));
  injectNetworkDelays(world);
  const warmCache = join(scratch, 'toolcache-warm');
  await mkdir(warmCache);
  // Untimed: fills the warm tool cache and creates the repository, as the service's earlier releases did.
  await release(world, repo, '4.0.0');
  await bake(world, repo, scratch, '4.0.0', warmCache);
  console.log('warmed up.');
  for (let i = 0; i < 3; i++) await sampleStarts(world, warmCache, startSamples);
  cpuBefore = await cpuTimes();

  for (let i = 0; i < RUNS; i++) {
    const first = `5.0.${i}`;
    const warm = `6.0.${i}`;
    await release(world, repo, first);
    await release(world, repo, warm);
    const coldCache = join(scratch, `toolcache-cold-${i}`);
    await mkdir(coldCache);
    nodeStarts.push(await nodeStartMs(world));
    await sampleStarts(world, warmCache, startSamples);
    runs.cold.push(await bake(world, repo, scratch, first, coldCache));
    console.log(line('cold', i, runs.cold[i] as Measured));
    runs.warm.push(await bake(world, repo, scratch, warm, warmCache));
    console.log(line('warm', i, runs.warm[i] as Measured));
    // The cold run's bake once more, on the same runner, whose tool cache is warm by now.
    runs.rerun.push(await bake(world, repo, scratch, first, warmCache));
    console.log(line('rerun', i, runs.rerun[i] as Measured));
    await rm(coldCache, { recursive: true, force: true });
  }
} finally {
  await world.stop();
  await rm(scratch, { recursive: true, force: true });
}

const starts = medianStarts(startSamples);
const context = {
  runs,
  startSamples,
  bounds: Object.fromEntries(SCENARIOS.map((s) => [s, bound(STAGES, s, starts)])) as Context['bounds'],
  modelRequests: Object.fromEntries(
    SCENARIOS.map((s) => [s, requestsPerService(STAGES, s)]),
  ) as Context['modelRequests'],
  node: (await promisify(execFile)(args.node, ['--version'])).stdout.trim(),
  nodeStartMs: nodeStarts,
  bundleBytes: (await stat(join(ROOT, 'dist/index.js'))).size,
  postBytes: (await stat(join(ROOT, 'dist/post.js'))).size,
  stealPercent: stealPercent(cpuBefore, await cpuTimes()),
  // The warm-up's reading is not one of the measured runs'.
  loadSamples: loadSamples.slice(1),
};
const list = figures(context);
print(context, list);
await mkdir(dirname(args.out), { recursive: true });
await writeFile(args.out, json(context, list));
console.log(`\nwritten to ${args.out}`);
// Judged on the Node hosted runners run the action on; on an older one the figures are for comparison.
if (judged(context.node) && list.some((f) => verdict(f) === 'FAIL')) process.exitCode = 1;
