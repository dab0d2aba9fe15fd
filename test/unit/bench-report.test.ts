import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Measured } from '../bench/measure.ts';
import { cpuTimes, judged, median, requestCheck, stealPercent } from '../bench/report.ts';

test('bench: the share of CPU time the host stole between two readings', async () => {
  assert.equal(stealPercent({ total: 1000, steal: 10 }, { total: 2000, steal: 260 }), 25);
  assert.equal(stealPercent({ total: 1000, steal: 10 }, { total: 1000, steal: 10 }), undefined);
  assert.equal(stealPercent(undefined, { total: 2000, steal: 0 }), undefined);
  const now = await cpuTimes();
  if (process.platform === 'linux') {
    assert.ok(now && now.total > 0 && now.steal >= 0 && now.steal <= now.total, JSON.stringify(now));
  } else assert.equal(now, undefined);
});

test('bench: medians of odd and even counts', () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.ok(Number.isNaN(median([])));
});

test('bench: targets are judged on Node 24 and later', () => {
  assert.equal(judged('v24.22.3'), true);
  assert.equal(judged('v25.0.0'), true);
  assert.equal(judged('v20.20.2'), false);
});

test("bench: the world's request counts against the model's, per service", () => {
  const model = { sts: 1, ecr: 3, registry: 29, teleport: 2, oidc: 2, mirror: 6 };
  const run = (registry: number) => ({ requests: { ...model, registry } }) as unknown as Measured;
  const modelRequests = { cold: model, warm: model, rerun: model };
  const [cold, warm] = requestCheck({
    runs: { cold: [run(29), run(29), run(31)], warm: [run(31)], rerun: [run(29)] },
    modelRequests,
  });
  assert.match(cold ?? '', /✔ .*registry 29/);
  assert.match(warm ?? '', /✘ the world counted registry 31 \(model 29\)/);
});
