import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { toolEnv } from '../../../src/child-env.ts';
import { parseAuthorizationToken } from '../../../src/ecr.ts';
import { writeDockerConfig } from '../../../src/stages/login.ts';

let root: string;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'login-test-'));
});
after(() => rm(root, { recursive: true, force: true }));

test('the ECR token splits into user and password at the first colon', () => {
  const token = Buffer.from('AWS:pass:with:colons').toString('base64');
  assert.deepEqual(parseAuthorizationToken(token), { user: 'AWS', password: 'pass:with:colons' });
  assert.throws(
    () => parseAuthorizationToken(Buffer.from('no-colon').toString('base64')),
    /not base64 user:password/,
  );
  assert.throws(
    () => parseAuthorizationToken(Buffer.from('AWS:').toString('base64')),
    /not base64 user:password/,
  );
});

test('config.json holds the configured host only, private to the runner user, and is never overwritten', async () => {
  const auth = Buffer.from('AWS:secret').toString('base64');
  const dir = await writeDockerConfig({ root }, '127.0.0.1:5443', auth);
  assert.equal(dir, join(root, 'docker'));
  assert.equal((await stat(dir)).mode & 0o777, 0o700);
  const file = join(dir, 'config.json');
  assert.equal((await stat(file)).mode & 0o777, 0o600);
  assert.deepEqual(JSON.parse(await readFile(file, 'utf8')), { auths: { '127.0.0.1:5443': { auth } } });
  await assert.rejects(writeDockerConfig({ root }, 'other', auth), /EEXIST/);
});

test('child tools get DOCKER_CONFIG and the TLS trust, but no AWS credentials, action inputs or OIDC request', () => {
  const saved = { ...process.env };
  try {
    Object.assign(process.env, {
      AWS_ACCESS_KEY_ID: 'AKIA',
      AWS_SECRET_ACCESS_KEY: 'secret',
      AWS_SESSION_TOKEN: 'session',
      'INPUT_GITHUB-TOKEN': 'ghs_x',
      SSL_CERT_FILE: '/ca.pem',
      ACTIONS_ID_TOKEN_REQUEST_URL: 'https://oidc',
    });
    const env = toolEnv('/private/docker');
    assert.equal(env['DOCKER_CONFIG'], '/private/docker');
    assert.equal(env['SSL_CERT_FILE'], '/ca.pem');
    assert.equal(
      env['ACTIONS_ID_TOKEN_REQUEST_URL'],
      undefined,
      'only tbot and the action ask for OIDC tokens',
    );
    for (const name of [
      'AWS_ACCESS_KEY_ID',
      'AWS_SECRET_ACCESS_KEY',
      'AWS_SESSION_TOKEN',
      'INPUT_GITHUB-TOKEN',
    ])
      assert.equal(env[name], undefined, name);
  } finally {
    for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
    Object.assign(process.env, saved);
  }
});
