// Tool faults: tbot, flux and cosign failing before their work, or after it. A run either goes on (the
// work is judged by its result, not the exit code) or stops naming the stage and what to do, and then a
// re-run completes with what the registry holds: one artifact under the tag, one signature.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { addToolFault, type NewToolFault } from '../world/standins/control.ts';
import { type Lab, signatures, since, startLab, why } from './lab.ts';
import { record } from './record.ts';

interface Case {
  service: string;
  remote: string;
  fault: NewToolFault;
  /** The stage a failing run names, or undefined when the run must go on. */
  fails?: string;
  /** What the failure must tell the user to do. */
  hint?: RegExp;
  /** Bake (and sign) once without the fault first: the case is a re-run of a finished bake. */
  rerun?: boolean;
}

const CASES: readonly Case[] = [
  {
    service: 'tbot-fails',
    remote: 'tbot',
    fault: { tool: 'tbot', command: 'start', mode: 'fail', message: 'join token not allowed' },
    fails: 'teleport',
    hint: /check that join token/,
  },
  {
    service: 'tbot-exits-1',
    remote: 'tbot',
    fault: { tool: 'tbot', command: 'start', mode: 'exit1-after-work' },
  },
  {
    service: 'flux-fails',
    remote: 'flux push',
    fault: { tool: 'flux', command: 'push', mode: 'fail' },
    fails: 'push',
    hint: /a re-run is safe/,
  },
  {
    service: 'flux-exits-1',
    remote: 'flux push',
    fault: { tool: 'flux', command: 'push', mode: 'exit1-after-work' },
  },
  {
    service: 'sign-fails',
    remote: 'cosign sign',
    fault: { tool: 'cosign', command: 'sign', mode: 'fail' },
    fails: 'sign',
    hint: /a re-run reuses the pushed artifact/,
  },
  {
    service: 'sign-exits-1',
    remote: 'cosign sign',
    fault: { tool: 'cosign', command: 'sign', mode: 'exit1-after-work' },
  },
  {
    // A check that cannot look must not lead to a second signature on an artifact already signed.
    service: 'verify-fails',
    remote: 'cosign verify',
    fault: { tool: 'cosign', command: 'verify', mode: 'fail' },
    rerun: true,
  },
];

/** A tool fault that is not a hang costs a run seconds. */
const BOUND_MS = 60_000;

// Tool faults live in a world's control directory, so the cases share two worlds, one case at a time each.
const halves = [CASES.filter((_, i) => i % 2 === 0), CASES.filter((_, i) => i % 2 === 1)];
const labs: Promise<Lab>[] = [];
before(() => {
  for (const half of halves) labs.push(startLab(half.map((c) => c.service)));
});
after(async () => {
  await Promise.allSettled(labs.map(async (lab) => (await lab).stop()));
});

async function check(lab: Lab, c: Case): Promise<void> {
  const { world } = lab;
  const repository = `${c.service}-manifests`;
  if (c.rerun) assert.equal((await lab.bake(c.service)).code, 0);
  addToolFault(world.controlDir, c.fault);
  const start = performance.now();
  const first = await lab.bake(c.service);
  const ms = since(start);
  const stage = first.failure?.split(':')[0];
  record({
    kind: 'fault',
    remote: c.remote,
    fault: c.fault.mode,
    injected: 1,
    hit: 1,
    result: first.code === 0 ? 'survived' : 'failed',
    ...(stage ? { stage } : {}),
    ms,
    boundMs: BOUND_MS,
  });
  assert.ok(ms < BOUND_MS, `took ${ms} ms`);
  let final = first;
  if (c.fails) {
    assert.equal(first.code, 1, why(first));
    assert.equal(stage, c.fails, first.failure);
    assert.match(first.failure ?? '', c.hint ?? / — /);
    final = await lab.bake(c.service);
  }
  assert.equal(final.code, 0, why(final));
  const digest = final.outputs['digest'] ?? '';
  assert.equal(digest, await world.tagDigest(world.region, repository, '1.2.3'), 'the tag holds the output');
  assert.equal(await signatures(world, repository, digest), 1, 'exactly one signature');
}

describe('a tool that fails', { concurrency: true }, () => {
  halves.forEach((half, index) => {
    test(`${half.map((c) => `${c.remote} ${c.fault.mode}`).join('; ')}`, async () => {
      const lab = await (labs[index] as Promise<Lab>);
      for (const c of half) await check(lab, c);
    });
  });
});
