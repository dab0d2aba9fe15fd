import assert from 'node:assert/strict';
import { symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { describeDiff, diffTrees, readTree, sameTree } from '../../src/tree.ts';
import { tempDirs, tree, writeTree } from '../support/tree.ts';

const tempDir = tempDirs('tree-');

describe('readTree', () => {
  test('refuses anything that is not a regular file or directory', async () => {
    const root = join(await tempDir(), 'with-link');
    await writeTree(root, { 'a.yaml': 'a' });
    await symlink('a.yaml', join(root, 'b.yaml'));
    await assert.rejects(readTree(root), /b\.yaml in the baked tree is not a regular file/);
  });
});

describe('diffTrees / describeDiff', () => {
  test('names changed (with the first differing line), missing and extra files', () => {
    const expected = tree({ 'a.yaml': 'one\ntwo\nthree\n', 'b.yaml': 'b', 'c.yaml': 'c' });
    const actual = tree({ 'a.yaml': 'one\ntwo\nTHREE\n', 'c.yaml': 'c', 'd.yaml': 'd' });
    const diff = diffTrees(expected, actual);
    assert.deepEqual(diff, {
      missing: ['b.yaml'],
      extra: ['d.yaml'],
      changed: [{ path: 'a.yaml', line: 3 }],
    });
    assert.deepEqual(describeDiff(diff, { expected: 'this bake', actual: 'the tag' }), [
      'a.yaml differs from line 3',
      'b.yaml is in this bake but not in the tag',
      'd.yaml is in the tag but not in this bake',
    ]);
  });

  test('identical bytes are the same tree; a trailing byte is a difference', () => {
    assert.ok(sameTree(diffTrees(tree({ a: 'x' }), tree({ a: 'x' }))));
    assert.deepEqual(diffTrees(tree({ a: 'x\n' }), tree({ a: 'x\n\n' })).changed, [{ path: 'a', line: 2 }]);
  });

  test('a long list is cut with a count of the rest', () => {
    const many = tree(Object.fromEntries(Array.from({ length: 15 }, (_, i) => [`f${i}.yaml`, 'x'])));
    const lines = describeDiff(diffTrees(many, new Map()), { expected: 'e', actual: 'a' }, 10);
    assert.equal(lines.length, 11);
    assert.equal(lines.at(-1), '… and 5 more');
  });
});
