import assert from 'node:assert/strict';
import { symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { resolveBakeDir } from '../../../src/stages/checkout.ts';
import { sourceAndTarget, tempDirs } from '../../support/tree.ts';

const tempDir = tempDirs('bake-checkout-');
const tree = async (files: Record<string, string>) => sourceAndTarget(await tempDir(), files);

describe('bake-path', () => {
  test('resolves a directory inside the tree', async () => {
    const { source } = await tree({ 'k/a.yaml': 'a: 1\n' });
    assert.equal(await resolveBakeDir(source, 'k'), join(source, 'k'));
  });

  test('refuses a missing path, a file, and a symlink that escapes the tree', async () => {
    const { source } = await tree({ 'k/a.yaml': 'a: 1\n' });
    await symlink('/etc', join(source, 'escape'));
    await assert.rejects(resolveBakeDir(source, 'missing'), /does not exist/);
    await assert.rejects(resolveBakeDir(source, 'k/a.yaml'), /is not a directory/);
    await assert.rejects(resolveBakeDir(source, 'escape'), /leads outside the checked-out tree/);
  });
});
