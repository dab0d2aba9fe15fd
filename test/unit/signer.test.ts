// The check before signing, and the signing token request: both keep asking while the answer says nothing.
import assert from 'node:assert/strict';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { type CosignRun, type VerifyOutcome, verifyConclusively } from '../../src/cosign.ts';
import { fetchIdToken } from '../../src/signer.ts';

const target = {
  artifact: `registry.example/svc-manifests@sha256:${'a'.repeat(64)}`,
  identity: 'https://github.com/o/r/.github/workflows/release.yml@refs/tags/1.2.3',
  issuer: 'https://token.actions.githubusercontent.com',
};
const unused = {} as CosignRun;
const noWait = { sleep: async () => {} };
const sequence = (...outcomes: VerifyOutcome[]) => {
  let calls = 0;
  const verify = async () => outcomes[Math.min(calls++, outcomes.length - 1)] as VerifyOutcome;
  return { verify, calls: () => calls };
};

describe('the check before signing', () => {
  test('asks again while cosign cannot look, and returns the first definite answer', async () => {
    const s = sequence(
      { kind: 'failed', code: 1, timedOut: true, stderr: '' },
      { kind: 'failed', code: 1, timedOut: false, stderr: 'connection reset' },
      { kind: 'verified' },
    );
    assert.deepEqual(await verifyConclusively(unused, target, noWait, s.verify), { kind: 'verified' });
    assert.equal(s.calls(), 3);
  });

  test('"no signatures" is definite: it is returned at once', async () => {
    const s = sequence({ kind: 'no-signatures', stderr: '' });
    assert.equal((await verifyConclusively(unused, target, noWait, s.verify)).kind, 'no-signatures');
    assert.equal(s.calls(), 1);
  });

  test('never conclusive: fails saying nothing was signed and that a re-run is safe', async () => {
    const s = sequence({ kind: 'failed', code: 1, timedOut: false, stderr: 'registry 503' });
    await assert.rejects(
      verifyConclusively(unused, target, noWait, s.verify),
      (error: Error & { hint?: string }) => {
        assert.match(
          error.message,
          /^cannot tell whether \S+ is already signed: cosign verify .* failed \(exit 1\)/,
        );
        assert.match(error.hint ?? '', /nothing was signed; re-run the job/);
        return true;
      },
    );
    assert.equal(s.calls(), 3);
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
