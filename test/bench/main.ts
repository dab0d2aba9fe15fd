// `npm run bench`: runs the bundle in the test world under the latency model (latency.ts): on a cold tool
// cache, on a warm one, and again on a finished bake, several times each; prints the medians against the
// targets and writes them to .bench/results.json so that runs can be compared. Not part of `npm test`.

import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { inputsFor } from '../harness/bake-world.ts';
import { PRIMARY_REGION, startWorld, type World } from '../world/index.ts';
import { createSampleRepo, type SampleRepo } from '../world/sample-repo.ts';
import { injectNetworkDelays, LATENCY, latencyWorldOptions } from './latency.ts';
import { type Measured, measure } from './measure.ts';
import { padStandinAssets } from './padded-assets.ts';
import { type CpuTimes, cpuTimes, figures, json, print, type Runs, stealPercent, verdict } from './report.ts';

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

async function bake(world: World, repo: SampleRepo, scratch: string, version: string, toolCache: string) {
  return measure({
    dir: await mkdtemp(join(scratch, `run-${version}-`)),
    toolCache,
    node: args.node,
    timeoutMs: 300_000,
    inputs: { ...inputsFor(world), service: SERVICE, images: IMAGE, tag: version },
    env: { ...world.env(), GITHUB_SERVER_URL: repo.serverUrl, GITHUB_REPOSITORY: repo.repository },
  });
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

const scratch = await mkdtemp(join(tmpdir(), 'bake-bench-'));
const world = await startWorld(latencyWorldOptions());
const runs: Runs = { cold: [], warm: [], rerun: [] };
const nodeStarts: number[] = [];
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
  cpuBefore = await cpuTimes();

  for (let i = 0; i < RUNS; i++) {
    const first = `5.0.${i}`;
    const warm = `6.0.${i}`;
    await release(world, repo, first);
    await release(world, repo, warm);
    const coldCache = join(scratch, `toolcache-cold-${i}`);
    await mkdir(coldCache);
    nodeStarts.push(await nodeStartMs(world));
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

const context = {
  runs,
  node: (await promisify(execFile)(args.node, ['--version'])).stdout.trim(),
  nodeStartMs: nodeStarts,
  bundleBytes: (await stat(join(ROOT, 'dist/index.js'))).size,
  postBytes: (await stat(join(ROOT, 'dist/post.js'))).size,
  stealPercent: stealPercent(cpuBefore, await cpuTimes()),
};
const list = figures(context);
print(context, list);
await mkdir(dirname(args.out), { recursive: true });
await writeFile(args.out, json(context, list));
console.log(`\nwritten to ${args.out}`);
if (list.some((f) => verdict(f) === 'FAIL')) process.exitCode = 1;
