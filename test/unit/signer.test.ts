import assert from 'node:assert/strict';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { ActionError, describeError } from '../../src/errors.ts';
import { fetchIdToken, readSigningToken, requestSigningToken, signerIdentity } from '../../src/signer.ts';
import { GITHUB, ISSUER, inFiveMinutes, jwt, REF } from '../support/signing.ts';

const noWait = { sleep: async () => {} };

describe('signer identity', () => {
  test('is <GITHUB_SERVER_URL>/<job_workflow_ref> from the token claims', () => {
    assert.equal(signerIdentity({ job_workflow_ref: REF }, GITHUB), `https://github.com/${REF}`);
    const reusable = 'maestra-io/workflows/.github/workflows/bake.yml@refs/heads/main';
    assert.equal(signerIdentity({ job_workflow_ref: reusable }, GITHUB), `https://github.com/${reusable}`);
    assert.equal(
      signerIdentity({ job_workflow_ref: REF }, 'https://ghe.example'),
      `https://ghe.example/${REF}`,
    );
  });

  test('a token without a usable job_workflow_ref says to set certificate-identity', () => {
    for (const claims of [
      {},
      { job_workflow_ref: '' },
      { job_workflow_ref: 42 },
      { job_workflow_ref: 'a b' },
    ]) {
      assert.throws(
        () => signerIdentity(claims, GITHUB),
        (error: unknown) =>
          error instanceof ActionError &&
          /job_workflow_ref/.test(error.message) &&
          /certificate-identity/.test(error.hint ?? ''),
      );
    }
  });

  test('readSigningToken checks audience sigstore and expiry and derives the identity', () => {
    const token = jwt({ aud: 'sigstore', iss: ISSUER, exp: inFiveMinutes(), job_workflow_ref: REF });
    const read = readSigningToken(token, GITHUB);
    assert.equal(read.identity, `https://github.com/${REF}`);
    assert.equal(read.token, token);
    assert.equal(read.issuer, ISSUER);
    assert.ok(read.expiresAt.getTime() > Date.now());
    assert.throws(
      () =>
        readSigningToken(
          jwt({ aud: 'sts.amazonaws.com', iss: ISSUER, exp: inFiveMinutes(), job_workflow_ref: REF }),
          GITHUB,
        ),
      /unusable: its audience is "sts\.amazonaws\.com", not sigstore/,
    );
    assert.throws(
      () => readSigningToken(jwt({ aud: 'sigstore', iss: ISSUER, exp: 1, job_workflow_ref: REF }), GITHUB),
      /unusable: it expired/,
    );
    assert.throws(
      () => readSigningToken(jwt({ aud: 'sigstore', exp: inFiveMinutes(), job_workflow_ref: REF }), GITHUB),
      /unusable: it has no iss claim/,
    );
  });

  test('a failed token request says which permission is missing, without the error hiding', async () => {
    await assert.rejects(
      requestSigningToken(GITHUB, async () => {
        throw new Error('Unable to get ACTIONS_ID_TOKEN_REQUEST_URL env variable');
      }),
      (error: unknown) => {
        const line = describeError(error);
        return (
          /OIDC token/.test(line) && /ACTIONS_ID_TOKEN_REQUEST_URL/.test(line) && /id-token: write/.test(line)
        );
      },
    );
  });
});

describe('the signing token request', () => {
  let plan: ((res: ServerResponse) => void)[] = [];
  let seen: { url: string; auth: string | undefined }[] = [];
  let url: string;
  const server = createServer((req, res) => {
    seen.push({ url: req.url ?? '', auth: req.headers.authorization });
    const next = plan.shift();
    if (next) return next(res);
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ value: 'a.b.c' }));
  });
  before(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/token?api-version=2.0`;
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });
  const env = () => ({ ACTIONS_ID_TOKEN_REQUEST_URL: url, ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'request-token' });

  test('asks as core.getIDToken does, and retries a 5xx and a dropped connection', async () => {
    plan = [(res) => res.writeHead(503).end(), (res) => res.socket?.destroy()];
    seen = [];
    assert.equal(await fetchIdToken('sigstore', { env: env(), retry: noWait }), 'a.b.c');
    assert.equal(seen.length, 3);
    assert.equal(seen[0]?.url, '/token?api-version=2.0&audience=sigstore');
    assert.equal(seen[0]?.auth, 'Bearer request-token');
  });

  test('a 403 is final', async () => {
    plan = [(res) => res.writeHead(403).end('{"message":"no id-token permission"}')];
    seen = [];
    await assert.rejects(fetchIdToken('sigstore', { env: env(), retry: noWait }), /answered HTTP 403/);
    assert.equal(seen.length, 1);
  });
});
