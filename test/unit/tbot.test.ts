import assert from 'node:assert/strict';
import { mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { generateKeyPair, SignJWT } from 'jose';
import { parse } from 'yaml';
import { readSvid, tbotConfig, tbotEnv } from '../../src/tbot.ts';
import { fakeContext } from '../support/context.ts';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'teleport-test-'));
});
after(() => rm(dir, { recursive: true, force: true }));

const { privateKey } = await generateKeyPair('ES256');
const jwt = (aud: string, expiresIn: number) =>
  new SignJWT({ aud, exp: Math.floor(Date.now() / 1000) + expiresIn, sub: 'bot' })
    .setProtectedHeader({ alg: 'ES256' })
    .sign(privateKey);

test('the tbot config is the contract v2 config', async () => {
  const ctx = await fakeContext({
    inputs: {
      'teleport-fqdn': 'teleport.example.com:443',
      'teleport-token': 'image-push-github-actions-svc',
      'teleport-workload-identity': 'image-push',
    },
  });
  assert.deepEqual(parse(tbotConfig(ctx, '/private/identity')), {
    version: 'v2',
    proxy_server: 'teleport.example.com:443',
    oneshot: true,
    onboarding: { join_method: 'github', token: 'image-push-github-actions-svc' },
    storage: { type: 'memory' },
    services: [
      {
        type: 'workload-identity-jwt',
        destination: { type: 'directory', path: '/private/identity' },
        selector: { name: 'image-push' },
        audiences: ['sts.amazonaws.com'],
      },
    ],
  });
});

test('tbot runs without the variables that override its config, and without the action inputs', () => {
  const env = tbotEnv({
    PATH: '/bin',
    TELEPORT_PROXY: 'x',
    TELEPORT_AUTH_SERVER: 'y',
    TBOT_CONFIG: 'dmVyc2lvbjogdjI=',
    TBOT_CONFIG_PATH: '/etc/tbot.yaml',
    TBOT_DEBUG: 'true',
    TELEPORT_BOT_TOKEN: 'other-token',
    TBOT_USE_PROXY_ADDR: 'yes',
    'INPUT_GITHUB-TOKEN': 'ghs_secret',
    ACTIONS_ID_TOKEN_REQUEST_URL: 'https://oidc',
    SSL_CERT_FILE: '/ca.pem',
  });
  assert.deepEqual(env, {
    PATH: '/bin',
    ACTIONS_ID_TOKEN_REQUEST_URL: 'https://oidc',
    SSL_CERT_FILE: '/ca.pem',
  });
});

test('a fresh, valid jwt_svid is read with its expiry', async () => {
  const path = join(dir, 'fresh');
  const started = Date.now();
  const token = await jwt('sts.amazonaws.com', 600);
  await writeFile(path, `${token}\n`);
  const svid = await readSvid(path, started);
  assert.ok('jwt' in svid);
  assert.equal(svid.jwt, token);
  assert.ok(svid.expiresAt.getTime() > Date.now());
});

test('a missing, stale, empty, expired or mis-addressed jwt_svid is a problem, not a token', async () => {
  const started = Date.now();
  assert.match(problem(await readSvid(join(dir, 'absent'), started)), /tbot wrote no .*absent/);

  const stale = join(dir, 'stale');
  await writeFile(stale, await jwt('sts.amazonaws.com', 600));
  const past = new Date(started - 60_000);
  await utimes(stale, past, past);
  assert.match(problem(await readSvid(stale, started)), /older than this tbot run/);

  const empty = join(dir, 'empty');
  await writeFile(empty, '\n');
  assert.match(problem(await readSvid(empty, started)), /is empty/);

  const expired = join(dir, 'expired');
  await writeFile(expired, await jwt('sts.amazonaws.com', -5));
  assert.match(problem(await readSvid(expired, started)), /unusable: it expired at/);

  const other = join(dir, 'other');
  await writeFile(other, await jwt('teleport.cluster.local', 600));
  assert.match(
    problem(await readSvid(other, started)),
    /unusable: its audience is "teleport\.cluster\.local"/,
  );

  const garbage = join(dir, 'garbage');
  await writeFile(garbage, 'not-a-jwt');
  assert.match(problem(await readSvid(garbage, started)), /1 non-empty dot-separated segments, not 3/);
});

function problem(svid: Awaited<ReturnType<typeof readSvid>>): string {
  assert.ok('problem' in svid, 'expected a problem');
  return svid.problem;
}
