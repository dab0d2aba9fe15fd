import assert from 'node:assert/strict';
import { test } from 'node:test';
import { generateKeyPair, SignJWT } from 'jose';
import { checkJwt, decodeJwt, JwtError } from '../../src/jwt.ts';

const { privateKey } = await generateKeyPair('ES256');
const now = new Date('2030-01-01T00:00:00Z');
const seconds = (date: Date) => Math.floor(date.getTime() / 1000);

const sign = (claims: Record<string, unknown>) =>
  new SignJWT(claims).setProtectedHeader({ alg: 'ES256', typ: 'JWT' }).sign(privateKey);

test('a well-formed token for the audience that has not expired passes and says when it expires', async () => {
  const token = await sign({ aud: 'sts.amazonaws.com', exp: seconds(now) + 600, sub: 'bot' });
  const { claims, expiresAt } = checkJwt(token, { audience: 'sts.amazonaws.com', now });
  assert.equal(claims.sub, 'bot');
  assert.equal(expiresAt.toISOString(), '2030-01-01T00:10:00.000Z');
  // aud as a list, as Teleport issues it.
  const listed = await sign({ aud: ['other', 'sts.amazonaws.com'], exp: seconds(now) + 60 });
  assert.doesNotThrow(() => checkJwt(`${listed}\n`, { audience: 'sts.amazonaws.com', now }));
});

test('an expired token fails, saying when it expired', async () => {
  const token = await sign({ aud: 'sts.amazonaws.com', exp: seconds(now) - 1 });
  assert.throws(
    () => checkJwt(token, { audience: 'sts.amazonaws.com', now }),
    (error: Error) => error instanceof JwtError && /expired at 2029-12-31T23:59:59\.000Z/.test(error.message),
  );
});

test('a token for another audience, or without exp, fails', async () => {
  const other = await sign({ aud: 'teleport.cluster.local', exp: seconds(now) + 60 });
  assert.throws(
    () => checkJwt(other, { audience: 'sts.amazonaws.com', now }),
    /audience is "teleport\.cluster\.local", not sts/,
  );
  const noAud = await sign({ exp: seconds(now) + 60 });
  assert.throws(() => checkJwt(noAud, { audience: 'sts.amazonaws.com', now }), /audience is null/);
  const noExp = await sign({ aud: 'sts.amazonaws.com' });
  assert.throws(() => checkJwt(noExp, { audience: 'sts.amazonaws.com', now }), /no numeric exp/);
});

test('anything but three base64url JSON segments is refused', async () => {
  const token = await sign({ aud: 'a', exp: 1 });
  const [header, payload] = token.split('.');
  assert.throws(() => decodeJwt(`${header}.${payload}`), /2 non-empty dot-separated segments, not 3/);
  assert.throws(() => decodeJwt(`${header}.${payload}.`), /not 3/);
  assert.throws(() => decodeJwt(`${header}.${payload}.sig.extra`), /4 non-empty/);
  assert.throws(() => decodeJwt(`${header}.pay+load.sig`), /payload is not base64url/);
  assert.throws(
    () => decodeJwt(`${header}.${Buffer.from('nope').toString('base64url')}.sig`),
    /payload is not JSON/,
  );
  assert.throws(
    () => decodeJwt(`${header}.${Buffer.from('[1]').toString('base64url')}.sig`),
    /not a JSON object/,
  );
  assert.throws(() => decodeJwt(''), JwtError);
});
