import assert from 'node:assert/strict';
import { test } from 'node:test';
import { exec } from '../../src/exec.ts';

test('a child that ignores SIGTERM is killed at its timeout, SIGKILL after a 2 s grace', async () => {
  const start = performance.now();
  const result = await exec('sh', ['-c', 'trap "" TERM; echo started >&2; while :; do sleep 1; done'], {
    timeoutMs: 300,
  });
  const ms = performance.now() - start;
  assert.equal(result.timedOut, true);
  assert.match(result.stderr, /started/);
  assert.ok(ms >= 300 && ms < 4_000, `ended after ${Math.round(ms)} ms`);
});

test('an aborted run stops its child at once', async () => {
  const abort = new AbortController();
  setTimeout(() => abort.abort(new Error('cancelled')), 200);
  const start = performance.now();
  const result = await exec('sleep', ['30'], { signal: abort.signal });
  assert.notEqual(result.code, 0);
  assert.ok(performance.now() - start < 3_000);
});
