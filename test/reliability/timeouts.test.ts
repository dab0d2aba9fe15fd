// A remote that does not answer: the action's request is abandoned at its timeout and retried, so the run
// succeeds, and within that timeout plus seconds. Each case waits out a real timeout (15-30 s), so every
// case gets its own world and they all wait side by side.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { FaultSpec } from '../world/index.ts';
import { addToolFault } from '../world/standins/control.ts';
import { type Lab, labPerService, signatures, since, why } from './lab.ts';
import { record } from './record.ts';

interface Remote {
  name: string;
  /** The product's own timeout for one request to this remote. */
  timeoutMs: number;
  spec: (service: string) => Omit<FaultSpec, 'fault'>;
}

const REMOTES: readonly Remote[] = [
  { name: 'Teleport /webapi/find', timeoutMs: 15_000, spec: () => ({ target: 'teleport', kind: 'find' }) },
  {
    name: 'GitHub OIDC (signing)',
    timeoutMs: 15_000,
    spec: () => ({ target: 'oidc', kind: 'token', urlIncludes: 'audience=sigstore' }),
  },
  {
    name: 'STS AssumeRoleWithWebIdentity',
    timeoutMs: 30_000,
    spec: () => ({ target: 'sts', kind: 'AssumeRoleWithWebIdentity' }),
  },
  {
    name: 'ECR GetAuthorizationToken',
    timeoutMs: 30_000,
    spec: () => ({ target: 'ecr', kind: 'GetAuthorizationToken' }),
  },
  {
    name: 'registry manifest reads',
    timeoutMs: 30_000,
    spec: (service) => ({
      target: 'registry:us-west-2',
      kind: 'manifest-get',
      urlIncludes: `/v2/${service}-manifests/manifests/1.2.3`,
    }),
  },
  {
    name: 'tool downloads (mirror)',
    timeoutMs: 30_000,
    spec: () => ({ target: 'mirror', kind: 'download' }),
  },
];

interface Case {
  service: string;
  remote: string;
  fault: string;
  timeoutMs: number;
  inject: (lab: Lab) => () => number;
}

const CASES: Case[] = REMOTES.flatMap((remote, index) => [
  {
    service: `hang-${index}`,
    remote: remote.name,
    fault: 'hang',
    timeoutMs: remote.timeoutMs,
    inject: (lab: Lab) => {
      const fault = lab.world.faults.inject({ ...remote.spec(`hang-${index}`), fault: 'hang', count: 1 });
      return () => fault.hits;
    },
  },
  {
    service: `late-${index}`,
    remote: remote.name,
    fault: 'delay past the timeout',
    timeoutMs: remote.timeoutMs,
    inject: (lab: Lab) => {
      const fault = lab.world.faults.inject({
        ...remote.spec(`late-${index}`),
        fault: 'delay',
        delayMs: remote.timeoutMs + 2_000,
        count: 1,
      });
      return () => fault.hits;
    },
  },
]);

// cosign verify hanging (the verification of the fresh signature): killed at its 30 s timeout, asked again.
CASES.push({
  service: 'verify-hangs',
  remote: 'cosign verify',
  fault: 'hang',
  timeoutMs: 30_000,
  inject: (lab) => {
    addToolFault(lab.world.controlDir, { tool: 'cosign', command: 'verify', mode: 'hang' });
    return () => 1;
  },
});

/** Beyond the one timeout: the rest of the run and a backoff or two. */
const SLACK_MS = 30_000;

const labOf = labPerService(CASES.map((c) => c.service));

describe('a remote that does not answer in time', { concurrency: true }, () => {
  for (const c of CASES) {
    test(`${c.remote}, ${c.fault}: retried after ${c.timeoutMs / 1000} s, and the run succeeds`, async () => {
      const lab = await labOf(c.service);
      const hits = c.inject(lab);
      const start = performance.now();
      // A fresh tool cache, so that the downloads happen.
      const result = await lab.bake(c.service, {}, { toolCache: await lab.freshToolCache() });
      const ms = since(start);
      record({
        kind: 'fault',
        remote: c.remote,
        fault: c.fault,
        injected: 1,
        hit: hits(),
        result: result.code === 0 ? 'survived' : 'failed',
        ms,
        boundMs: c.timeoutMs + SLACK_MS,
      });
      assert.equal(result.code, 0, why(result));
      assert.equal(hits(), 1, 'the fault was met');
      assert.ok(ms >= c.timeoutMs, `the run waited out the timeout (${ms} ms)`);
      assert.ok(ms < c.timeoutMs + SLACK_MS, `took ${ms} ms`);
      const digest = result.outputs['digest'] ?? '';
      assert.equal(digest, await lab.world.tagDigest(lab.world.region, `${c.service}-manifests`, '1.2.3'));
      assert.equal(await signatures(lab.world, `${c.service}-manifests`, digest), 1);
    });
  }
});
