import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cpuTimes, median, stealPercent } from '../bench/report.ts';

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
