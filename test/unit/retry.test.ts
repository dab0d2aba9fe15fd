import assert from 'node:assert/strict';
import { test } from 'node:test';
import { retry } from '../../src/retry.ts';
import { counted, fakeClock } from '../support/stubs.ts';

const noSleep = () => {
  const waits: number[] = [];
  return { waits, sleep: async (ms: number) => void waits.push(ms) };
};

test('retry: retries what the classifier calls transient, with growing jittered delays', async () => {
  const { waits, sleep } = noSleep();
  let calls = 0;
  const result = await retry(
    async () => {
      calls++;
      if (calls < 4) throw new Error('transient');
      return 'done';
    },
    { attempts: 5, baseMs: 100, classify: () => 'retry', sleep, random: () => 1 },
  );
  assert.equal(result, 'done');
  assert.equal(calls, 4);
  assert.deepEqual(waits, [100, 200, 400]);
});

test('retry: full jitter stays within half to all of the ceiling, capped', async () => {
  const { waits, sleep } = noSleep();
  await assert.rejects(
    retry(
      async () => {
        throw new Error('x');
      },
      { attempts: 5, baseMs: 100, maxDelayMs: 250, classify: () => 'retry', sleep, random: () => 0 },
    ),
  );
  assert.deepEqual(waits, [50, 100, 125, 125]);
});

test('retry: a fatal error fails at once', async () => {
  const { waits, sleep } = noSleep();
  const denied = counted(async () => {
    throw new Error('AccessDenied');
  });
  await assert.rejects(
    retry(denied, { attempts: 10, baseMs: 1, classify: () => 'fail', sleep }),
    /AccessDenied/,
  );
  assert.equal(denied.calls, 1);
  assert.deepEqual(waits, []);
});

test('retry: gives up at the deadline rather than sleeping past it', async () => {
  const slow = counted(async () => {
    throw new Error('slow');
  });
  await assert.rejects(
    retry(slow, {
      attempts: 100,
      baseMs: 1000,
      deadlineMs: 5000,
      classify: () => 'retry',
      ...fakeClock(),
      random: () => 1,
    }),
    /slow/,
  );
  assert.equal(slow.calls, 3); // waits 1000 + 2000; the next 4000 would pass the deadline
});

test('retry: reports each retry', async () => {
  const seen: number[] = [];
  await retry(
    async (n) => {
      if (n < 3) throw new Error('again');
      return n;
    },
    {
      attempts: 3,
      baseMs: 1,
      classify: () => 'retry',
      sleep: async () => {},
      onRetry: (_e, n) => seen.push(n),
    },
  );
  assert.deepEqual(seen, [1, 2]);
});

test('retry: an abort stops the wait', async () => {
  const abort = new AbortController();
  const run = retry(
    async () => {
      throw new Error('x');
    },
    { attempts: 5, baseMs: 60_000, classify: () => 'retry', signal: abort.signal },
  );
  abort.abort(new Error('cancelled'));
  await assert.rejects(run, /cancelled|x/);
});
