// Fault storms: one run with the same passing fault at every remote at once (two in a row for the 5xx,
// throttling and reset kinds). Every run must succeed through retries, and every fault must have been met.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { FaultSpec } from '../world/index.ts';
import { labPerService, signatures, since, why } from './lab.ts';
import { record } from './record.ts';

/** Where a storm strikes: the remote as the doc names it, and how the world's servers know its requests. */
interface Remote {
  name: string;
  target: string;
  kind: string;
  urlIncludes?: (service: string) => string;
}

const REGISTRY = 'registry:us-west-2';
const repoPath = (service: string) => `/v2/${service}-manifests/`;

export const REMOTES: readonly Remote[] = [
  { name: 'Teleport /webapi/find', target: 'teleport', kind: 'find' },
  { name: 'Teleport join (tbot)', target: 'teleport', kind: 'join' },
  {
    name: 'GitHub OIDC (tbot)',
    target: 'oidc',
    kind: 'token',
    urlIncludes: () => 'teleport.cluster.local',
  },
  { name: 'GitHub OIDC (signing)', target: 'oidc', kind: 'token', urlIncludes: () => 'audience=sigstore' },
  { name: 'STS AssumeRoleWithWebIdentity', target: 'sts', kind: 'AssumeRoleWithWebIdentity' },
  { name: 'ECR GetAuthorizationToken', target: 'ecr', kind: 'GetAuthorizationToken' },
  { name: 'ECR DescribeImages', target: 'ecr', kind: 'DescribeImages' },
  { name: 'ECR DescribeRepositories', target: 'ecr', kind: 'DescribeRepositories' },
  { name: 'ECR CreateRepository', target: 'ecr', kind: 'CreateRepository' },
  { name: 'registry manifest reads', target: REGISTRY, kind: 'manifest-get', urlIncludes: repoPath },
  { name: 'registry blob reads', target: REGISTRY, kind: 'blob-get', urlIncludes: repoPath },
  { name: 'registry writes (flux, cosign)', target: REGISTRY, kind: 'manifest-put', urlIncludes: repoPath },
  { name: 'tool downloads (mirror)', target: 'mirror', kind: 'download' },
];

interface Storm {
  service: string;
  /** The faults each remote meets, in order, one request each. */
  faults: Omit<FaultSpec, 'target' | 'kind' | 'urlIncludes'>[];
  label: string;
}

const STORMS: readonly Storm[] = [
  { service: 'storm-a', label: '5xx, then throttling', faults: [{ fault: '5xx' }, { fault: 'throttle' }] },
  { service: 'storm-b', label: 'reset, then 5xx', faults: [{ fault: 'reset' }, { fault: '5xx' }] },
  { service: 'storm-c', label: 'delay 1 s', faults: [{ fault: 'delay', delayMs: 1_000 }] },
];

/** A storm run stays well inside what the product's retries may take (seconds, not minutes). */
const STORM_BOUND_MS = 60_000;

// Each storm in its own world, side by side: the runs mostly wait out backoffs.
const labOf = labPerService(STORMS.map((storm) => storm.service));

describe('a storm at every remote at once', { concurrency: true }, () => {
  for (const storm of STORMS) {
    test(`${storm.label}: the run succeeds through retries`, async () => {
      const lab = await labOf(storm.service);
      const { world } = lab;
      await world.seedImage(world.region, `${storm.service.replace('-', '_')}_app`, '1.2.3');
      const injected = REMOTES.map((remote) => ({
        remote,
        faults: storm.faults.map((spec) =>
          world.faults.inject({
            ...spec,
            target: remote.target,
            kind: remote.kind,
            count: 1,
            ...(remote.urlIncludes ? { urlIncludes: remote.urlIncludes(storm.service) } : {}),
          }),
        ),
      }));
      const start = performance.now();
      const result = await lab.bake(
        storm.service,
        { images: `${storm.service.replace('-', '_')}_app` },
        { toolCache: await lab.freshToolCache() },
      );
      const ms = since(start);
      for (const { remote, faults } of injected) {
        for (const fault of faults) {
          record({
            kind: 'fault',
            remote: remote.name,
            fault: fault.fault === 'delay' ? `delay ${fault.delayMs} ms` : fault.fault,
            injected: 1,
            hit: fault.hits,
            result: result.code === 0 ? 'survived' : 'failed',
            ms,
            boundMs: STORM_BOUND_MS,
          });
        }
      }
      assert.equal(result.code, 0, why(result));
      assert.ok(ms < STORM_BOUND_MS, `took ${ms} ms`);
      const missed = injected.flatMap(({ remote, faults }) =>
        faults.filter((f) => f.hits === 0).map((f) => `${remote.name}: ${f.fault}`),
      );
      assert.deepEqual(missed, [], 'every injected fault was met');
      const digest = result.outputs['digest'] ?? '';
      assert.equal(digest, await world.tagDigest(world.region, `${storm.service}-manifests`, '1.2.3'));
      assert.equal(await signatures(world, `${storm.service}-manifests`, digest), 1);
    });
  }
});
