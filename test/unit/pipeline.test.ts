import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Context } from '../../src/context.ts';
import { LogFloor } from '../../src/log.ts';
import { runPipeline, type Stage, StageFailure, type Timing } from '../../src/pipeline.ts';
import { sleep } from '../../src/retry.ts';
import { fakeContext } from '../support/context.ts';
import { MemorySink } from '../support/log.ts';

const quiet = () => new LogFloor(new MemorySink());

// Stage names are typed by the Results registry; tests use free names.
const s = (def: {
  name: string;
  needs?: string[];
  after?: string[];
  ms?: number;
  fail?: boolean;
  skip?: string;
}) =>
  ({
    name: def.name,
    needs: def.needs ?? [],
    after: def.after ?? [],
    ...(def.skip ? { skip: () => def.skip } : {}),
    run: async (ctx: Context) => {
      await sleep(def.ms ?? 1, ctx.signal);
      if (def.fail) throw new Error(`${def.name} broke`);
      return `${def.name}-result`;
    },
  }) as unknown as Stage;

test('pipeline: dependencies run first; independent stages overlap', async () => {
  const abort = new AbortController();
  const ctx = await fakeContext({ signal: abort.signal });
  const timings: Timing[] = [];
  await runPipeline(
    ctx,
    [s({ name: 'a', ms: 30 }), s({ name: 'b', ms: 30 }), s({ name: 'c', needs: ['a', 'b'] })],
    abort,
    timings,
    quiet(),
  );
  const t = Object.fromEntries(timings.map((x) => [x.stage, x]));
  assert.ok((t['c']?.start ?? 0) >= Math.max(t['a']?.end ?? 0, t['b']?.end ?? 0));
  assert.ok((t['b']?.start ?? 99) < (t['a']?.end ?? 0), 'a and b ran at the same time');
  assert.equal((ctx.results as Record<string, unknown>)['c'], 'c-result');
});

test('pipeline: a failure names its stage, aborts the rest and leaves dependents not run', async () => {
  const abort = new AbortController();
  const ctx = await fakeContext({ signal: abort.signal });
  const timings: Timing[] = [];
  await assert.rejects(
    runPipeline(
      ctx,
      [
        s({ name: 'quick', fail: true }),
        s({ name: 'slow', ms: 5000 }),
        s({ name: 'dependent', needs: ['quick'] }),
      ],
      abort,
      timings,
      quiet(),
    ),
    (error: unknown) =>
      error instanceof StageFailure &&
      String(error.stage) === 'quick' &&
      /^quick: quick broke$/.test(error.message),
  );
  const status = Object.fromEntries(timings.map((x) => [x.stage, x.status]));
  assert.deepEqual(status, { quick: 'failed', slow: 'failed', dependent: 'not run' });
  assert.ok(abort.signal.aborted);
});

test('pipeline: a skipped stage skips what needs it, but not what only runs after it', async () => {
  const abort = new AbortController();
  const ctx = await fakeContext({ signal: abort.signal });
  const timings: Timing[] = [];
  await runPipeline(
    ctx,
    [
      s({ name: 'sign', skip: 'sign: false' }),
      s({ name: 'needs-sign', needs: ['sign'] }),
      s({ name: 'after-sign', after: ['sign'] }),
    ],
    abort,
    timings,
    quiet(),
  );
  const byStage = Object.fromEntries(timings.map((x) => [x.stage, x]));
  assert.equal(byStage['sign']?.note, 'sign: false');
  assert.equal(byStage['needs-sign']?.status, 'skipped');
  assert.match(byStage['needs-sign']?.note ?? '', /needs sign/);
  assert.equal(byStage['after-sign']?.status, 'ok');
});

test('pipeline: an unknown dependency is a programming error', async () => {
  const abort = new AbortController();
  const ctx = await fakeContext({ signal: abort.signal });
  await assert.rejects(
    runPipeline(ctx, [s({ name: 'a', needs: ['ghost'] })], abort, [], quiet()),
    /unknown stage 'ghost'/,
  );
});
