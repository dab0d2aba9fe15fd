import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  type CosignRun,
  classifyVerify,
  classifyVerifyFailure,
  cosignEnv,
  describeVerify,
  legacyFormatFlags,
  parseSubjects,
  signArgs,
  signatureLayers,
  VerifyFailure,
  type VerifyOutcome,
  verifyArgs,
  verifyConclusively,
  verifyWithBackoff,
} from '../../src/cosign.ts';
import { sha } from '../support/digest.ts';
import { ISSUER, REF } from '../support/signing.ts';
import { counted, fakeClock } from '../support/stubs.ts';

const ARTIFACT = `registry.example/sample-service-manifests@sha256:${'a'.repeat(64)}`;
const target = { artifact: ARTIFACT, identity: `https://github.com/${REF}`, issuer: ISSUER };

describe('cosign command lines', () => {
  test('v2 keeps the tag format by default and takes no format flags; v3 is told to keep it', () => {
    assert.deepEqual(legacyFormatFlags('2.6.1', 'sign'), []);
    assert.deepEqual(legacyFormatFlags('2.4.3', 'verify'), []);
    assert.deepEqual(legacyFormatFlags('3.1.2', 'sign'), [
      '--new-bundle-format=false',
      '--use-signing-config=false',
    ]);
    assert.deepEqual(legacyFormatFlags('3.0.2', 'verify'), ['--new-bundle-format=false']);
  });

  test('sign is by digest with --yes; verify has exact identity and issuer', () => {
    assert.deepEqual(signArgs('2.6.1', ARTIFACT), ['sign', '--yes', ARTIFACT]);
    assert.deepEqual(verifyArgs('2.6.1', target), [
      'verify',
      '--certificate-identity',
      target.identity,
      '--certificate-oidc-issuer',
      ISSUER,
      '--output',
      'json',
      ARTIFACT,
    ]);
    assert.ok(!verifyArgs('2.6.1', target).some((arg) => /regexp/.test(arg)));
  });

  test('the token goes only into SIGSTORE_ID_TOKEN, and no COSIGN_* flag from the runner reaches cosign', () => {
    const base = {
      PATH: '/bin',
      DOCKER_CONFIG: '/tmp/d',
      SIGSTORE_ID_TOKEN: 'stale',
      COSIGN_IDENTITY_TOKEN: 'other',
      COSIGN_REPOSITORY: 'registry.example/elsewhere',
      COSIGN_YES: 'false',
    };
    assert.deepEqual(cosignEnv(base, 'tok'), {
      PATH: '/bin',
      DOCKER_CONFIG: '/tmp/d',
      SIGSTORE_ID_TOKEN: 'tok',
    });
    assert.deepEqual(cosignEnv(base), { PATH: '/bin', DOCKER_CONFIG: '/tmp/d' });
    assert.equal(base.SIGSTORE_ID_TOKEN, 'stale', 'the base environment is not changed');
  });
});

describe('cosign verify exit codes', () => {
  const run = (code: number, stderr = '', timedOut = false) => classifyVerify({ code, stderr, timedOut });
  const mismatchStderr = [
    'Error: no matching signatures: none of the expected identities matched what was in the certificate, got subjects [https://github.com/maestra-io/other/.github/workflows/x.yml@refs/heads/main] with issuer https://token.actions.githubusercontent.com',
    ' none of the expected identities matched what was in the certificate, got subjects [a@example.com, https://github.com/maestra-io/other/.github/workflows/x.yml@refs/heads/main] with issuer https://accounts.google.com',
    'main.go:74: error during command execution: no matching signatures: …',
  ].join('\n');

  test('each documented code has its own meaning', () => {
    assert.deepEqual(run(0), { kind: 'verified' });
    assert.equal(run(10, 'Error: no signatures found').kind, 'no-signatures');
    // 11 is a missing tag, which a digest reference never is: not one of the outcomes by digest.
    assert.equal(run(11, 'Error: image tag not found').kind, 'failed');
    assert.equal(run(12, mismatchStderr).kind, 'mismatch');
    assert.equal(
      run(12, 'Error: no matching signatures: signature not found in transparency log').kind,
      'no-match',
    );
    // A key-only signature: 2.6.x folds it into 12, in its 2.6.1 and its bundle (2.6.2 and later) wording.
    assert.equal(
      run(12, 'Error: no matching signatures: no certificate found on signature').kind,
      'no-certificate',
    );
    assert.equal(
      run(12, 'Error: no matching signatures: error verifying bundle: nil certificate provided').kind,
      'no-certificate',
    );
    assert.deepEqual(run(1, 'Error: GET https://r/v2/: 503'), {
      kind: 'failed',
      code: 1,
      timedOut: false,
      stderr: 'Error: GET https://r/v2/: 503',
    });
    assert.equal((run(143, '', true) as { timedOut: boolean }).timedOut, true);
  });

  test('the found signers are read from every `got subjects [...]`, once each', () => {
    assert.deepEqual(parseSubjects(mismatchStderr), {
      subjects: [
        'https://github.com/maestra-io/other/.github/workflows/x.yml@refs/heads/main',
        'a@example.com',
      ],
      issuers: ['https://token.actions.githubusercontent.com', 'https://accounts.google.com'],
    });
    assert.deepEqual(parseSubjects('Error: no signatures found'), { subjects: [], issuers: [] });
  });

  test('messages say what happened; a mismatch shows expected and found', () => {
    const message = (outcome: VerifyOutcome) => describeVerify(outcome, target);
    assert.match(message(run(10)), /no signatures found for .*sample-service-manifests@sha256:a{64}/);
    assert.match(
      message(run(11, 'Error: image tag not found: HEAD …')),
      /failed \(exit 11\):\nError: image tag not found/,
    );
    const mismatch = message(run(12, mismatchStderr));
    assert.ok(mismatch.includes(`expected identity ${target.identity} (issuer ${ISSUER})`), mismatch);
    assert.ok(
      mismatch.includes(
        'found https://github.com/maestra-io/other/.github/workflows/x.yml@refs/heads/main, a@example.com',
      ),
      mismatch,
    );
    assert.match(
      message(run(12, 'Error: no matching signatures: x509: certificate signed by unknown authority')),
      /cosign exit 12\):\n.*unknown authority/,
    );
    assert.match(
      message(run(12, 'no matching signatures: no certificate found on signature')),
      /no certificate/,
    );
    const lines = Array.from({ length: 40 }, (_, i) => `line ${i}`).join('\n');
    const failed = message(run(1, lines));
    assert.match(failed, /failed \(exit 1\):\n…\nline 30\n/);
    assert.ok(!failed.includes('line 29'), 'only the tail of stderr');
    assert.match(message(run(143, 'partial', true)), /timed out/);
  });

  test('a mismatch or a key-only signature fails at once; anything else may be lag and is retried', () => {
    const verdict = (outcome: VerifyOutcome) =>
      classifyVerifyFailure(
        new VerifyFailure(outcome as Exclude<VerifyOutcome, { kind: 'verified' }>, target),
      );
    assert.equal(verdict(run(12, mismatchStderr)), 'fail');
    assert.equal(verdict(run(12, 'no matching signatures: no certificate found on signature')), 'fail');
    assert.equal(verdict(run(10)), 'retry');
    assert.equal(verdict(run(11)), 'retry');
    assert.equal(verdict(run(12, 'searching log query: 502')), 'retry');
    assert.equal(verdict(run(1)), 'retry');
    assert.equal(verdict(run(143, '', true)), 'retry');
    assert.equal(classifyVerifyFailure(new Error('spawn ENOENT')), 'fail');
  });
});

describe('verify with backoff', () => {
  const noWait = { sleep: async () => {}, random: () => 0.5 };
  const sequence = (...outcomes: VerifyOutcome[]) => {
    let i = 0;
    return async () => outcomes[Math.min(i++, outcomes.length - 1)]!;
  };

  test('passes after two lagging attempts and reports the attempts it took', async () => {
    const waits: number[] = [];
    const attempts = await verifyWithBackoff(
      sequence(
        { kind: 'no-signatures', stderr: '' },
        { kind: 'no-match', stderr: 'tlog' },
        { kind: 'verified' },
      ),
      target,
      { attempts: 8, baseMs: 2000, ...noWait, onRetry: (_e, _n, ms) => waits.push(ms) },
    );
    assert.equal(attempts, 3);
    assert.deepEqual(waits, [1500, 3000]);
  });

  test('a mismatch is not retried and keeps its message and hint', async () => {
    const verify = counted(
      async (): Promise<VerifyOutcome> => ({
        kind: 'mismatch',
        subjects: ['https://github.com/x'],
        issuers: [ISSUER],
        stderr: '',
      }),
    );
    await assert.rejects(
      verifyWithBackoff(verify, target, { attempts: 8, baseMs: 2000, ...noWait }),
      (error: unknown) =>
        error instanceof VerifyFailure &&
        /expected identity .* found https:\/\/github\.com\/x/.test(error.message) &&
        /certificate-identity/.test(error.hint ?? ''),
    );
    assert.equal(verify.calls, 1);
  });

  test('stops at the deadline with the last failure', async () => {
    const clock = fakeClock();
    const verify = counted(async (): Promise<VerifyOutcome> => ({ kind: 'no-signatures', stderr: '' }));
    await assert.rejects(
      verifyWithBackoff(verify, target, {
        attempts: 100,
        baseMs: 2000,
        maxDelayMs: 20_000,
        deadlineMs: 120_000,
        random: () => 1,
        ...clock,
      }),
      /no signatures found/,
    );
    assert.ok(clock.now() <= 120_000, `waited ${clock.now()} ms`);
    assert.ok(verify.calls >= 5 && verify.calls <= 10, `${verify.calls} attempts`);
  });
});

describe('the check before signing', () => {
  // Its own target, apart from the one the sign and verify cases share.
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

describe('signature layers', () => {
  test('signatures are told apart by payload and signature, since every signature of a digest has the same payload', () => {
    const body = Buffer.from(
      JSON.stringify({
        layers: [
          { digest: sha('payload'), annotations: { 'dev.cosignproject.cosign/signature': 'MEUCIQ1' } },
          { digest: sha('payload'), annotations: { 'dev.cosignproject.cosign/signature': 'MEUCIQ2' } },
        ],
      }),
    );
    assert.deepEqual(signatureLayers(body), [`${sha('payload')} MEUCIQ1`, `${sha('payload')} MEUCIQ2`]);
    assert.deepEqual(signatureLayers(Buffer.from('{}')), []);
  });
});
