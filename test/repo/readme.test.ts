import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
// @ts-expect-error: a plain .mjs build script without types
import { renderTables, SECTION } from '../../scripts/readme-tables.mjs';

const ROOT = resolve(import.meta.dirname, '../..');

test('README documents exactly the inputs and outputs of action.yml', async () => {
  const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
  const actionYml = await readFile(join(ROOT, 'action.yml'), 'utf8');
  const section = (readme.match(SECTION) ?? [''])[0];
  assert.equal(section, renderTables(actionYml), 'run `node scripts/readme-tables.mjs --write`');
});

test('README shows the two local commands', async () => {
  const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
  assert.match(readme, /npm ci && npm run sandbox/);
  assert.match(readme, /npm ci && npm test/);
});
