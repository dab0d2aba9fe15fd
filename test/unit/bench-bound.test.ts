import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { StageName } from '../../src/context.ts';
import { STAGES } from '../../src/stages/index.ts';
import { bound, derivation, requestsPerService, type Starts, stageCost, term } from '../bench/bound.ts';
import { LATENCY } from '../bench/latency.ts';

const starts: Starts = { node: 50, tbot: 100, flux: 110, cosign: 120 };
const chainOf = (b: ReturnType<typeof bound>) => b.chain.map((c) => c.stage);

test('bench bound: a wait costs its requests, its bytes at the bandwidth, or a tool run with its measured start', () => {
  assert.equal(term({ request: 'registry', count: 3, what: 'x' }, starts).ms, 3 * LATENCY.registryMs);
  assert.equal(term({ download: 'teleport' }, starts).ms, 40 + 3000);
  // tbot: its start, its own work, the runner's token and the join.
  assert.equal(term({ tool: 'tbot start' }, starts).ms, 100 + 1500 + 100 + 80);
  assert.equal(term({ tool: 'cosign verify' }, starts).ms, 120 + 1000 + 4 * 40);
  const side = term(
    { alongside: [{ download: 'flux' }, { request: 'mirror', what: 'checksum file' }] },
    starts,
  );
  assert.equal(side.ms, 40 + 500, 'waits side by side cost the longest of them');
  assert.match(
    side.text,
    /flux asset: 40 ms to the first byte \+ 25 MB at 50 MB\/s 0\.50 s \(alongside: checksum file: mirror 40 ms\)$/,
  );
});

test('bench bound: the longest chain follows needs and after, and starts with the process', () => {
  // teleport needs checkout and install-tbot: the later of the two decides; resolve costs nothing but stays on it.
  const graph: { name: StageName; needs: StageName[]; after?: StageName[] }[] = [
    { name: 'resolve', needs: [] },
    { name: 'checkout', needs: ['resolve'] },
    { name: 'teleport-version', needs: [], after: ['resolve'] },
    { name: 'install-tbot', needs: ['teleport-version'] },
    { name: 'teleport', needs: ['checkout', 'install-tbot'] },
  ];
  const cold = bound(graph, 'cold', starts);
  const tbot = 100 + 1500 + 100 + 80;
  assert.deepEqual(chainOf(cold), ['resolve', 'teleport-version', 'install-tbot', 'teleport']);
  assert.equal(cold.ms, 50 + 80 + 3040 + tbot);
  const warm = bound(graph, 'warm', starts);
  assert.equal(warm.ms, 50 + 80 + tbot, 'a cached tool costs nothing');
  assert.throws(
    () =>
      bound(
        [
          { name: 'resolve', needs: ['plan'] },
          { name: 'plan', needs: ['resolve'] },
        ],
        'cold',
        starts,
      ),
    /a cycle/,
  );
});

test("bench bound: the action's stage graph under the model", () => {
  const cold = bound(STAGES, 'cold', starts);
  assert.deepEqual(chainOf(cold), [
    'resolve',
    'preflight',
    'teleport-version',
    'install-tbot',
    'teleport',
    'assume',
    'login',
    'push',
    'sign',
    'verify-signature',
  ]);
  const push = 40 + (110 + 100 + 7 * 40);
  const sign = 100 + (120 + 2000 + 12 * 40);
  const verify = 120 + 1000 + 4 * 40;
  const tbot = 100 + 1500 + 100 + 80;
  assert.equal(cold.ms, 50 + 80 + 3040 + tbot + 80 + 80 + push + sign + verify);
  // The other downloads run beside the Teleport bundle; nothing waits for them.
  assert.equal(stageCost('install-cosign', 'cold', starts).ms, 2040);

  const warm = bound(STAGES, 'warm', starts);
  assert.equal(warm.ms, 50 + 80 + tbot + 80 + 80 + push + sign + verify);

  const rerun = bound(STAGES, 'rerun', starts);
  assert.deepEqual(chainOf(rerun).slice(-2), ['push', 'sign'], 'a re-run ends with the check before signing');
  assert.equal(rerun.ms, 50 + 80 + tbot + 80 + 80 + 3 * 40 + (100 + 120 + 1000 + 4 * 40));

  const lines = derivation(cold);
  assert.match(lines[0] ?? '', /^cold bound 9\.\d\d s/);
  assert.ok(
    lines.some((l) => /^\+ install-tbot\s+3\.04 s {2}teleport asset/.test(l)),
    lines.join('\n'),
  );
  assert.match(lines.at(-1) ?? '', new RegExp(`= .*${(cold.ms / 1000).toFixed(2)} s$`));
});

test('bench bound: every request of a run, per service, as the world should count them', () => {
  const cold = requestsPerService(STAGES, 'cold');
  assert.deepEqual(cold, {
    sts: 1,
    ecr: 3,
    registry: 1 + 7 + 1 + 12 + 4 + 4,
    teleport: 2,
    oidc: 2,
    mirror: 6,
  });
  assert.deepEqual(requestsPerService(STAGES, 'warm'), { ...cold, mirror: 0 });
  assert.deepEqual(requestsPerService(STAGES, 'rerun'), { ...cold, mirror: 0, registry: 3 + 1 + 4 + 4 });
});
