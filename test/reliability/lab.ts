// A test world that a reliability suite starts and stops itself (several run side by side), and the checks
// every reliability run ends with: no secret shown, nothing of ours left under RUNNER_TEMP.

import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { inputsFor } from '../harness/bake-world.ts';
import { leakedSecrets, type RunOptions, type RunResult, runAction } from '../harness/run-action.ts';
import { startWorld, type World, type WorldOptions } from '../world/index.ts';
import { getManifest } from '../world/oci.ts';
import { createSampleRepo, type SampleRepo } from '../world/sample-repo.ts';
import { recordSecrets } from './record.ts';

export { stageStatus, why } from '../harness/bake-world.ts';

export interface Lab {
  readonly world: World;
  readonly repo: SampleRepo;
  readonly scratch: string;
  /** A fresh, empty tool cache (so the run downloads its tools). */
  freshToolCache(): Promise<string>;
  /** Runs main and post for `service` against this world, then checks secrets and cleanup (see `settle`). */
  bake(service: string, inputs?: Record<string, string>, options?: RunOptions): Promise<RunResult>;
  stop(): Promise<void>;
}

export const joinToken = (service: string) => `image-push-github-actions-${service}`;

/**
 * One lab per service, started side by side before the file's tests and stopped after them; returns the
 * lab of a service.
 */
export function labPerService(services: readonly string[]): (service: string) => Promise<Lab> {
  const labs = new Map<string, Promise<Lab>>();
  before(() => {
    for (const service of services) labs.set(service, startLab([service]));
  });
  after(async () => {
    await Promise.allSettled([...labs.values()].map(async (lab) => (await lab).stop()));
  });
  return (service) => labs.get(service) as Promise<Lab>;
}

export async function startLab(services: readonly string[], options: WorldOptions = {}): Promise<Lab> {
  const world = await startWorld({ allowedJoinTokens: services.map(joinToken), ...options });
  const scratch = await mkdtemp(join(tmpdir(), 'bake-reliability-'));
  const repo = await createSampleRepo(join(scratch, 'repo'));
  const shared = join(scratch, 'toolcache');
  await mkdir(shared);
  let caches = 0;
  const lab: Lab = {
    world,
    repo,
    scratch,
    async freshToolCache() {
      const dir = join(scratch, `toolcache-${++caches}`);
      await mkdir(dir);
      return dir;
    },
    async bake(service, inputs = {}, runOptions = {}) {
      const result = await runAction({
        toolCache: shared,
        dir: await mkdtemp(join(scratch, 'run-')),
        ...runOptions,
        inputs: {
          ...inputsFor(world),
          service,
          ...inputs,
        },
        env: {
          ...world.env(),
          GITHUB_SERVER_URL: repo.serverUrl,
          GITHUB_REPOSITORY: repo.repository,
          ...runOptions.env,
        },
      });
      await settle(result, world);
      return result;
    },
    async stop() {
      await world.stop();
      await rm(scratch, { recursive: true, force: true });
    },
  };
  return lab;
}

/**
 * What every run must leave behind, failed or killed: no secret the world issued (nor the GitHub token) in
 * its output, summary or outputs, and once post ran, nothing under RUNNER_TEMP.
 */
export async function settle(result: RunResult, world: World): Promise<void> {
  const leaked = leakedSecrets(result, [...world.secrets(), result.githubToken]);
  recordSecrets(world.secrets().length + 1, leaked.length);
  assert.deepEqual(leaked, [], 'no secret is shown');
  if (result.post) {
    assert.equal(result.post.code, 0, `post: ${result.post.stdout}${result.post.stderr}`);
    assert.deepEqual(await readdir(result.runnerTemp), [], 'post left nothing under RUNNER_TEMP');
  }
}

/** Layers of the signature manifest at `sha256-<hex>.sig`: one per signature; 0 when there is none. */
export async function signatures(world: World, repository: string, digest: string): Promise<number> {
  const tag = `${digest.replace(':', '-')}.sig`;
  const manifest = await getManifest(world.registry(world.region), repository, tag);
  if (!manifest) return 0;
  return (JSON.parse(manifest.body.toString('utf8')) as { layers?: unknown[] }).layers?.length ?? 0;
}

/** Runs `fn` over `items`, at most `limit` at a time, in order of `items`. */
export async function pool<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>) {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** Milliseconds since `start`, for bounds and the record. */
export const since = (start: number) => Math.round(performance.now() - start);
