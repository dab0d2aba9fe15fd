import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AwsSession, REFRESH_MARGIN_MS, Renewing } from '../../src/session.ts';
import { RecordingLog } from '../support/log.ts';

const inMs = (ms: number) => new Date(Date.now() + ms);

test('Renewing: kept while it has more than the margin left, renewed once for concurrent callers when not', async () => {
  const log = new RecordingLog();
  let renewals = 0;
  const value = new Renewing<{ n: number; at: Date | undefined }>(
    { n: 0, at: inMs(REFRESH_MARGIN_MS + 60_000) },
    (v) => v.at,
    async () => ({ n: 99, at: inMs(1_000) }),
  );
  assert.equal((await value.get(log)).n, 0, 'more than the margin left: kept');
  const expiring = new Renewing<{ n: number; at: Date | undefined }>(
    { n: 0, at: inMs(REFRESH_MARGIN_MS - 1_000) },
    (v) => v.at,
    async (_log, previous) => {
      renewals++;
      await new Promise((resolve) => setTimeout(resolve, 10));
      return { n: (previous?.n ?? -1) + 1, at: inMs(REFRESH_MARGIN_MS + 60_000) };
    },
  );
  const [a, b] = await Promise.all([expiring.get(log), expiring.get(log)]);
  assert.equal(a.n, 1);
  assert.equal(b.n, 1);
  assert.equal(renewals, 1, 'one renewal for both callers');
  assert.equal((await expiring.get(log)).n, 1, 'the renewed value is kept');
  assert.equal(renewals, 1);
});

test('Renewing: nothing yet means a renewal; no expiry means it never expires', async () => {
  const log = new RecordingLog();
  const first = new Renewing<string>(
    undefined,
    () => undefined,
    async () => 'minted',
  );
  assert.equal(await first.get(log), 'minted');
  let renewed = false;
  const forever = new Renewing<string>(
    'kept',
    () => undefined,
    async () => {
      renewed = true;
      return 'new';
    },
  );
  assert.equal(await forever.get(log), 'kept');
  assert.equal(renewed, false);
});

test('AwsSession: credentials near expiry are minted again, with a new JWT only when that is near expiry too', async () => {
  const log = new RecordingLog();
  const minted: string[] = [];
  const credentials = (key: string, ms: number) => ({
    accessKeyId: key,
    secretAccessKey: 's',
    sessionToken: 't',
    expiration: inMs(ms),
  });
  const session = new AwsSession(
    { jwt: 'jwt-0', expiresAt: inMs(REFRESH_MARGIN_MS + 60_000) },
    credentials('k0', 1_000),
    {
      jwt: async () => {
        minted.push('jwt');
        return { jwt: 'jwt-1', expiresAt: inMs(REFRESH_MARGIN_MS + 60_000) };
      },
      credentials: async (jwt) => {
        minted.push(`credentials with ${jwt}`);
        return credentials('k1', REFRESH_MARGIN_MS + 60_000);
      },
    },
  );
  assert.equal((await session.credentials(log)).accessKeyId, 'k1');
  assert.deepEqual(minted, ['credentials with jwt-0'], 'the JWT had time left: not minted again');
  assert.equal((await session.credentials(log)).accessKeyId, 'k1', 'fresh ones are kept');
  assert.deepEqual(minted, ['credentials with jwt-0']);
  assert.match(log.of('info')[0]?.message ?? '', /the AWS credentials expire in \d+ s: minting new ones/);
});
