import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { privateDir } from '../../src/context.ts';
import { writeDockerConfig } from '../../src/registry-login.ts';

let root: string;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'login-test-'));
});
after(() => rm(root, { recursive: true, force: true }));

test('config.json holds the configured host only, private to the runner user, and is never overwritten', async () => {
  const auth = Buffer.from('AWS:secret').toString('base64');
  const dir = await privateDir({ root }, 'docker');
  await writeDockerConfig(dir, '127.0.0.1:5443', auth);
  assert.equal(dir, join(root, 'docker'));
  assert.equal((await stat(dir)).mode & 0o777, 0o700);
  const file = join(dir, 'config.json');
  assert.equal((await stat(file)).mode & 0o777, 0o600);
  assert.deepEqual(JSON.parse(await readFile(file, 'utf8')), { auths: { '127.0.0.1:5443': { auth } } });
  await assert.rejects(writeDockerConfig(dir, 'other', auth), /EEXIST/);
});
