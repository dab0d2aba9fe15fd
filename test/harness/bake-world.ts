// One fixture for the end-to-end suites: a test world, the sample repository, a shared tool cache,
// and `bake()`, which runs the bundle against them as a runner would.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach } from 'node:test';
import { startWorld, type World, type WorldOptions } from '../world/index.ts';
import { REAL_TOOLS } from '../world/real-tools.ts';
import { createSampleRepo, type SampleRepo } from '../world/sample-repo.ts';
import { clearCalls, clearToolFaults } from '../world/standins/control.ts';
import { leakedSecrets, type RunOptions, type RunResult, runAction } from './run-action.ts';

export interface BakeWorld {
  readonly world: World;
  readonly repo: SampleRepo;
  readonly scratch: string;
  /** Shared by every bake of the suite unless a test passes its own, so each tool is fetched once. */
  readonly toolCache: string;
  /** The inputs that point the action at this world. */
  worldInputs(): Record<string, string>;
  /** Runs `dist/index.js` then `dist/post.js` for `service` against the world and the sample repository. */
  bake(service: string, inputs?: Record<string, string>, options?: RunOptions): Promise<RunResult>;
}

/**
 * Registers the suite's hooks: the world starts before the first test and stops after the last (also on
 * failure); faults, counters and the stand-ins' fault and call files are cleared before each test.
 * `services` are the services the suite bakes (each needs its Teleport join token).
 */
export function useBakeWorld(services: readonly string[], options: WorldOptions = {}): BakeWorld {
  let world: World | undefined;
  let repo: SampleRepo | undefined;
  let scratch: string | undefined;
  const ready = <T>(value: T | undefined): T => {
    assert.ok(value !== undefined, 'the test world is not started (use the fixture inside a test)');
    return value;
  };

  before(async () => {
    world = await startWorld({
      allowedJoinTokens: services.map((service) => `image-push-github-actions-${service}`),
      ...options,
    });
    assert.ok(world.standinsPublished, 'the stand-in tools are published on the mirror');
    scratch = await mkdtemp(join(tmpdir(), 'bake-e2e-'));
    repo = await createSampleRepo(join(scratch, 'repo'));
    await mkdir(join(scratch, 'toolcache'));
  });
  after(async () => {
    await world?.stop();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });
  beforeEach(() => {
    const w = ready(world);
    w.faults.clear();
    w.counters.reset();
    clearToolFaults(w.controlDir);
    clearCalls(w.controlDir);
  });

  const fixture: BakeWorld = {
    get world() {
      return ready(world);
    },
    get repo() {
      return ready(repo);
    },
    get scratch() {
      return ready(scratch);
    },
    get toolCache() {
      return join(ready(scratch), 'toolcache');
    },
    worldInputs() {
      return inputsFor(ready(world));
    },
    async bake(service, inputs = {}, runOptions = {}) {
      const w = ready(world);
      const r = ready(repo);
      const result = await runAction({
        toolCache: fixture.toolCache,
        // Under the fixture's scratch, which goes with it.
        dir: await mkdtemp(join(ready(scratch), 'run-')),
        ...runOptions,
        inputs: { service, ...fixture.worldInputs(), ...inputs, ...runOptions.inputs },
        env: {
          ...w.env(),
          GITHUB_SERVER_URL: r.serverUrl,
          GITHUB_REPOSITORY: r.repository,
          ...runOptions.env,
        },
      });
      // Every end-to-end run, failed or not: no secret shown, and after post nothing of ours under RUNNER_TEMP.
      assert.deepEqual(leakedSecrets(result, [...w.secrets(), result.githubToken]), [], 'no secret is shown');
      if (result.post?.code === 0) assert.deepEqual(await readdir(result.runnerTemp), [], 'post cleaned up');
      return result;
    },
  };
  return fixture;
}

/** The inputs that point the action at `world`: its registry, role, Teleport proxy, mirror and tool versions. */
export function inputsFor(world: World): Record<string, string> {
  return {
    images: '',
    'ecr-registry': world.registryHost,
    'aws-role-arn': world.roleArn,
    'teleport-fqdn': world.teleportFqdn,
    'tool-mirror': world.mirrorUrl,
    'flux-version': world.standinVersions.flux,
    'cosign-version': world.standinVersions.cosign,
    // Real cosign signs keyless only against the public Sigstore instance, which the world cannot stand in for.
    ...(REAL_TOOLS ? { sign: 'false' } : {}),
  };
}

/** Everything a failed assertion on a run should show. */
export const why = (result: RunResult): string =>
  `${result.failure ?? ''}\n${result.stdout}\n${result.stderr}`;

/** A stage's status in the summary's timing table ('ok', 'failed', 'skipped', 'not run'), if listed. */
export function stageStatus(result: RunResult, stage: string): string | undefined {
  const row = new RegExp(`<tr><td>${stage}</td><td>[^<]*?(ok|failed|skipped|not run)</td>`).exec(
    result.summary,
  );
  return row?.[1];
}
