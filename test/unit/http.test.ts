import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { timeoutSignal } from '../../src/http.ts';

// A real collection between arming and firing: what let Node 20 drop an AbortSignal.timeout inside AbortSignal.any.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

test('a timeout combined with the run signal fires even after a garbage collection', async () => {
  const run = new AbortController();
  const { signal, timedOut } = timeoutSignal(100, run.signal);
  const aborted = new Promise<unknown>((resolve) =>
    signal.addEventListener('abort', () => resolve(signal.reason)),
  );
  gc();
  await new Promise((resolve) => setTimeout(resolve, 50));
  gc();
  const reason = await Promise.race([
    aborted,
    new Promise((resolve) => setTimeout(() => resolve('never'), 2_000)),
  ]);
  assert.equal((reason as Error).name, 'TimeoutError');
  assert.equal(timedOut(), true);
  assert.equal(run.signal.aborted, false, 'the run itself is not cancelled');
});

test('the run signal still cancels, and clear stops the timer', async () => {
  const run = new AbortController();
  const { signal, timedOut, clear } = timeoutSignal(100, run.signal);
  run.abort(new Error('cancelled'));
  assert.equal(signal.aborted, true);
  assert.equal(timedOut(), false);
  const quiet = timeoutSignal(50);
  quiet.clear();
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(quiet.signal.aborted, false, 'a cleared timeout never fires');
  clear();
});
