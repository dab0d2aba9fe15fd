import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { Timing } from '../../src/pipeline.ts';
import { writeSummary } from '../../src/summary.ts';
import type { Graph } from '../../src/timeline.ts';
import { timingsFromSummary } from '../bench/measure.ts';
import { fakeContext } from '../support/context.ts';

const t = (stage: string, status: Timing['status'], start: number, end: number, note?: string) =>
  ({ stage, status, start, end, ...(note ? { note } : {}) }) as Timing;
const g = (name: string, needs: string[] = []) => ({ name, needs }) as unknown as Graph[number];

// @actions/core keeps the summary file's path once it has written there, so one file serves every test here.
const dir = await mkdtemp(join(tmpdir(), 'summary-'));
const file = join(dir, 'summary');
process.env['GITHUB_STEP_SUMMARY'] = file;
after(() => rm(dir, { recursive: true, force: true }));

/** The summary writeSummary leaves in GITHUB_STEP_SUMMARY for these timings. */
async function summaryOf(timings: Timing[], graph: Graph): Promise<string> {
  await writeFile(file, '');
  const ctx = await fakeContext({ outputs: { version: '1.2.3' } });
  await writeSummary(ctx, timings, undefined, graph);
  return readFile(file, 'utf8');
}

const graph = [g('a'), g('b'), g('c', ['a', 'b']), g('d', ['c']), g('e', ['d'])];
const timings = [
  t('a', 'ok', 100, 1100),
  t('b', 'ok', 100, 400),
  t('c', 'ok', 1100, 2100),
  t('d', 'skipped', 2100, 2100, 'dry run'),
  t('e', 'not run', 0, 0),
];

test('summary: each stage has a timeline bar, the critical path marked █ and the rest ▒', async () => {
  const summary = await summaryOf(timings, graph);
  const bar = (stage: string) =>
    new RegExp(`<tr><td>${stage}</td>.*?<code>([·█▒]+)</code>`).exec(summary)?.[1];
  assert.equal(bar('a'), '·████████████···········');
  assert.equal(bar('b'), '·▒▒▒▒···················');
  assert.equal(bar('c'), '············████████████');
  assert.equal(bar('d'), '························');
  assert.equal(bar('e'), '························');
});

test('summary: the critical path and the sequential time are spelled out under the table', async () => {
  const summary = await summaryOf(timings, graph);
  assert.match(
    summary,
    /The stages ended 2\.10 s after the action started; one after another they would take 2\.30 s\. Critical path, 2\.00 s: a → c \(/,
  );
});

test('summary: the benchmark reads back the timings it shows', async () => {
  const summary = await summaryOf(timings, graph);
  assert.deepEqual(
    timingsFromSummary(summary).map(({ stage, status, start, end }) => ({ stage, status, start, end })),
    timings.map(({ stage, status, start, end }) => ({ stage, status, start, end })),
  );
});
