import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Timing } from '../../src/pipeline.ts';
import { STAGES } from '../../src/stages/index.ts';
import { criticalPath, type Graph, ganttBar, lastEnd, sequentialMs } from '../../src/timeline.ts';

// Stage names are typed by the Results registry; tests use free names.
const t = (stage: string, start: number, end: number, status: Timing['status'] = 'ok') =>
  ({ stage, status, start, end }) as Timing;
const g = (name: string, needs: string[] = [], after: string[] = []) =>
  ({ name, needs, after }) as unknown as Graph[number];
const names = (path: { stages: Timing[] }) => path.stages.map((s) => s.stage);

test('critical path: walks back through the dependency that ended last', () => {
  const graph = [g('a'), g('b'), g('c', ['a', 'b']), g('d', ['a'])];
  const timings = [t('a', 10, 100), t('b', 10, 300), t('c', 300, 500), t('d', 100, 450)];
  const path = criticalPath(timings, graph);
  assert.deepEqual(names(path), ['b', 'c']);
  assert.equal(path.ms, 490);
});

test('critical path: an `after` dependency counts like a need', () => {
  const graph = [g('pre'), g('fetch', [], ['pre']), g('use', ['fetch'])];
  const timings = [t('pre', 5, 20), t('fetch', 20, 220), t('use', 220, 260)];
  assert.deepEqual(names(criticalPath(timings, graph)), ['pre', 'fetch', 'use']);
});

test('critical path: skipped stages are zero-length links; stages that never ran are left out', () => {
  const graph = [g('a'), g('b', ['a']), g('c', ['b']), g('d', ['c'])];
  const timings = [t('a', 0, 50), t('b', 50, 50, 'skipped'), t('c', 50, 80), t('d', 0, 0, 'not run')];
  const path = criticalPath(timings, graph);
  assert.deepEqual(names(path), ['a', 'b', 'c']);
  assert.equal(path.ms, 80);
});

test('critical path: on equal ends the longer stage is the one the run waited for', () => {
  const graph = [g('quick'), g('slow'), g('next', ['quick', 'slow'])];
  const timings = [t('quick', 90, 100), t('slow', 0, 100), t('next', 100, 120)];
  assert.deepEqual(names(criticalPath(timings, graph)), ['slow', 'next']);
});

test('critical path: empty without timings, and safe on a graph with a cycle', () => {
  assert.deepEqual(criticalPath([], []), { stages: [], ms: 0 });
  const cyclic = [g('x', ['y']), g('y', ['x'])];
  assert.deepEqual(names(criticalPath([t('x', 0, 10), t('y', 0, 20)], cyclic)), ['x', 'y']);
});

test('critical path: over the real stage graph, a warm run goes through the identity chain', () => {
  const at: [string, number, number][] = [
    ['resolve', 60, 61],
    ['preflight', 61, 62],
    ['checkout', 62, 140],
    ['substitute', 140, 160],
    ['plan', 160, 161],
    ['teleport-version', 62, 150],
    ['install-tbot', 150, 155],
    ['install-flux', 62, 70],
    ['install-cosign', 62, 75],
    ['teleport', 155, 1700],
    ['assume', 1700, 1790],
    ['login', 1790, 1880],
    ['images', 1790, 1875],
    ['repository', 1790, 1960],
    ['push', 1960, 2300],
    ['sign', 2300, 4400],
    ['verify-signature', 4400, 5400],
    ['verify-artifact', 2300, 2500],
  ];
  const path = criticalPath(
    at.map(([stage, start, end]) => t(stage, start, end)),
    STAGES,
  );
  // What comes before the Teleport version (resolve, preflight) may change; the chain from there may not.
  const chain = names(path);
  assert.deepEqual(chain.slice(chain.indexOf('teleport-version')), [
    'teleport-version',
    'install-tbot',
    'teleport',
    'assume',
    'repository',
    'push',
    'sign',
    'verify-signature',
  ]);
});

test('sequential time sums every stage that ran; the last end is when the run could stop', () => {
  const timings = [t('a', 0, 100), t('b', 50, 250), t('c', 250, 250, 'skipped'), t('d', 0, 0, 'not run')];
  assert.equal(sequentialMs(timings), 300);
  assert.equal(lastEnd(timings), 250);
});

test('gantt bar: where the stage ran on the run’s clock, at least one cell, nothing for a skip', () => {
  assert.equal(ganttBar(t('a', 0, 500), 1000, 10), '█████·····');
  assert.equal(ganttBar(t('b', 500, 1000), 1000, 10, '▒'), '·····▒▒▒▒▒');
  assert.equal(ganttBar(t('c', 990, 1000), 1000, 10), '·········█');
  assert.equal(ganttBar(t('d', 300, 301), 1000, 10), '···█······');
  assert.equal(ganttBar(t('e', 300, 300, 'skipped'), 1000, 10), '··········');
  assert.equal(ganttBar(t('f', 0, 0, 'not run'), 1000, 10), '··········');
  assert.equal(ganttBar(t('g', 0, 0), 0, 4), '····');
});
