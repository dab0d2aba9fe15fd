import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LogFloor } from '../../src/log.ts';
import { MemorySink } from '../support/log.ts';

test('log floor: overlapping stages each get one whole group', async () => {
  const sink = new MemorySink();
  const floor = new LogFloor(sink);
  const a = floor.open('a');
  const b = floor.open('b');
  a.info('a1');
  b.info('b1');
  a.info('a2');
  b.info('b2');
  b.close(); // b ended first but waits for the floor
  a.info('a3');
  a.close();
  assert.deepEqual(sink.lines, [
    '::group::a',
    'a1',
    'a2',
    'a3',
    '::endgroup::',
    '::group::b',
    'b1',
    'b2',
    '::endgroup::',
  ]);
});

test('log floor: a waiting stage that is still running takes the floor and goes on live', () => {
  const sink = new MemorySink();
  const floor = new LogFloor(sink);
  const a = floor.open('a');
  const b = floor.open('b');
  b.info('b1');
  a.close();
  b.info('b2');
  assert.deepEqual(sink.lines, ['::group::a', '::endgroup::', '::group::b', 'b1', 'b2']);
  b.close();
  assert.equal(sink.lines.at(-1), '::endgroup::');
});
