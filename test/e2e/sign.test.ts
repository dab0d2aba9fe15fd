// Keyless signing in the test world: skip-when-verified, signing by digest into the tag format, exact-identity
// verification with backoff, and re-runs. Each test bakes its own service, so its registry state is its own.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { SIGN_BACKOFF } from '../../src/stages/sign.ts';
import { useBakeWorld, why } from '../harness/bake-world.ts';
import { leakedSecrets, type RunResult } from '../harness/run-action.ts';
import { escapeRegExp } from '../support/regexp.ts';
import { sigTag } from '../support/signing.ts';
import { TARGETS } from '../world/index.ts';
import { getManifest } from '../world/oci.ts';
import { NEEDS_STANDINS } from '../world/real-tools.ts';
import { addToolFault, clearCalls, readCalls } from '../world/standins/control.ts';

const SERVICES = [
  'signed',
  'lagging-sigstore',
  'sign-fails',
  'wrong-identity',
  'verify-mismatch',
  'unsigned',
  'sign-passing',
  'sign-landed',
  'sign-denied',
];

const fx = useBakeWorld(SERVICES);
const bake = fx.bake;

// Fulcio's GitHub identity: the run's GITHUB_SERVER_URL (the world's git server) and the workflow ref.
const signer = () => `${fx.repo.serverUrl}/${String(fx.world.oidc.claims()['job_workflow_ref'])}`;
const manifestPuts = () => fx.world.counters.get(TARGETS.registry(fx.world.region), 'manifest-put');
const cosignCalls = (command: string) =>
  readCalls(fx.world.controlDir, 'cosign').filter((c) => c.command === command);

/** The digest of the signature manifest at `sha256-<hex>.sig`, read straight from the registry. */
async function signatureDigest(service: string, digest: string): Promise<string | undefined> {
  return (await getManifest(fx.world.registry(fx.world.region), `${service}-manifests`, sigTag(digest)))
    ?.digest;
}

/** OIDC tokens the fx.world issued for Sigstore so far (audience `sigstore`). */
function sigstoreTokens(): number {
  return fx.world.secrets().filter((secret) => {
    const payload = secret.split('.')[1];
    if (secret.split('.').length !== 3 || !payload) return false;
    try {
      return (
        (JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { aud?: unknown }).aud ===
        'sigstore'
      );
    } catch {
      return false;
    }
  }).length;
}

/** The installed cosign, run as a verifier of the published artifact would, against the raw registry. */
async function verifyIndependently(service: string, digest: string, identity: string) {
  const base = join(fx.toolCache, 'cosign', fx.world.standinVersions.cosign);
  const [arch] = await readdir(base);
  const cosign = join(base, arch ?? '', 'cosign');
  const host = new URL(fx.world.registry(fx.world.region)).host;
  const { stdout } = await promisify(execFile)(cosign, [
    'verify',
    '--allow-insecure-registry',
    '--certificate-identity',
    identity,
    '--certificate-oidc-issuer',
    'https://token.actions.githubusercontent.com',
    `${host}/${service}-manifests@${digest}`,
  ]);
  return JSON.parse(stdout) as { optional: { Subject: string } }[];
}

function assertNoLeaks(result: RunResult): void {
  assert.deepEqual(leakedSecrets(result, [...fx.world.secrets(), result.githubToken]), []);
}

test('signs the digest keyless into sha256-<hex>.sig, verifies it, and a re-run writes nothing', {
  skip: NEEDS_STANDINS,
}, async () => {
  const tokensBefore = sigstoreTokens();
  const first = await bake('signed');
  assert.equal(first.code, 0, why(first));
  const digest = first.outputs['digest'] ?? '';
  assert.match(digest, /^sha256:[a-f0-9]{64}$/);
  assert.equal(
    cosignCalls('verify').length,
    1,
    'a fresh push has no signature to look for: verified once, after',
  );

  // The signature is where Flux before 2.8 and cosign v2 look: a manifest at the digest's .sig tag.
  const signature = await signatureDigest('signed', digest);
  assert.ok(signature, `${sigTag(digest)} exists in the registry`);
  const verified = await verifyIndependently('signed', digest, signer());
  assert.deepEqual(
    verified.map((v) => v.optional.Subject),
    [signer()],
  );

  // By digest, with the one token in the environment: never in argv, never fetched by cosign itself.
  const [signCall, ...moreSigns] = cosignCalls('sign');
  assert.ok(signCall && moreSigns.length === 0, 'cosign sign ran once');
  assert.deepEqual(signCall.argv, ['sign', '--yes', `${fx.world.registryHost}/signed-manifests@${digest}`]);
  assert.ok(signCall.env.includes('SIGSTORE_ID_TOKEN'));
  assert.ok(!signCall.env.includes('ACTIONS_ID_TOKEN_REQUEST_URL'), 'cosign cannot ask GitHub for a token');
  assert.equal(sigstoreTokens() - tokensBefore, 1, 'one OIDC token for Sigstore');
  for (const call of cosignCalls('verify')) {
    assert.ok(call.argv.includes('--certificate-identity') && call.argv.includes(signer()));
    assert.ok(call.argv.at(-1)?.endsWith(`@${digest}`), 'verified by digest');
  }

  assert.match(first.summary, new RegExp(`signer identity</td><td><code>${escapeRegExp(signer())}</code>`));
  assert.match(
    first.summary,
    /signer issuer<\/td><td><code>https:\/\/token\.actions\.githubusercontent\.com</,
  );
  assert.match(first.summary, /signature<\/td><td>signed now</);
  assert.match(first.summary, /signature verified<\/td><td>✔ for/);
  assertNoLeaks(first);

  // A re-run after full success: the same digest, no manifest of any kind written, the signature untouched.
  fx.world.counters.reset();
  clearCalls(fx.world.controlDir);
  const again = await bake('signed');
  assert.equal(again.code, 0, why(again));
  assert.equal(again.outputs['digest'], digest);
  assert.equal(again.outputs['reused'], 'true');
  assert.equal(manifestPuts(), 0, 'no PUT to the .sig tag (or any other)');
  assert.equal(cosignCalls('sign').length, 0);
  assert.equal(await signatureDigest('signed', digest), signature);
  assert.match(again.summary, /signature<\/td><td>already signed</);
  assert.equal(cosignCalls('verify').length, 1, 'the check before signing is the verification');
  assert.match(
    again.summary,
    /signature verified<\/td><td>✔ for <code>[^<]+<\/code>, by the check before signing/,
  );
  assertNoLeaks(again);
});

test('verify fails twice after signing, then passes: the run succeeds after backing off', {
  skip: NEEDS_STANDINS,
}, async () => {
  // A fresh push has no signature tag, so nothing runs cosign before signing; two verifications fail after it.
  addToolFault(fx.world.controlDir, {
    tool: 'cosign',
    command: 'verify',
    mode: 'verify-fail',
    exitCode: 10,
    remaining: 2,
  });
  const result = await bake('lagging-sigstore');
  assert.equal(result.code, 0, why(result));
  assert.equal(cosignCalls('sign').length, 1);
  assert.equal(cosignCalls('verify').length, 3);
  assert.equal(
    (result.stdout.match(/no signatures found for .*; retrying in \d+ ms/g) ?? []).length,
    2,
    result.stdout,
  );
  assert.match(result.summary, /signature verified<\/td><td>✔ for <code>[^<]+<\/code> after 3 attempts/);
  assert.ok(await signatureDigest('lagging-sigstore', result.outputs['digest'] ?? ''));
  assertNoLeaks(result);
});

const FULCIO_503 = 'signing: POST https://fulcio.sigstore.dev/api/v2/signingCert: 503 Service Unavailable';

/** The next `cosign sign` of the stand-in fails this way (`exit1-after-work`: after writing its signature). */
const signFault = (mode: 'fail' | 'exit1-after-work', message: string, remaining = 1) =>
  addToolFault(fx.world.controlDir, { tool: 'cosign', command: 'sign', mode, message, remaining });

/** Who signed the digest the run put out, one entry per signature, as an independent verifier sees it. */
async function signers(service: string, result: RunResult): Promise<string[]> {
  const verified = await verifyIndependently(service, result.outputs['digest'] ?? '', signer());
  return verified.map((v) => v.optional.Subject);
}

test('signing fails on a first run; the re-run reuses the artifact, signs it and reports the same digest', {
  skip: NEEDS_STANDINS,
}, async () => {
  // Fulcio down for every attempt of the first run.
  signFault('fail', FULCIO_503, SIGN_BACKOFF.attempts);
  const first = await bake('sign-fails');
  assert.equal(first.code, 1, why(first));
  assert.match(
    first.failure ?? '',
    /^sign: cosign sign \S+@sha256:[a-f0-9]{64} failed \(exit 1\):\n.*503 Service Unavailable[\s\S]* — .*re-run reuses the pushed artifact/,
  );
  assert.equal(cosignCalls('sign').length, SIGN_BACKOFF.attempts, 'each attempt of the run was made');
  const digest = first.outputs['digest'] ?? '';
  assert.match(digest, /^sha256:/, 'the digest of the pushed artifact is an output even so');
  assert.equal(await signatureDigest('sign-fails', digest), undefined);
  assertNoLeaks(first);

  const again = await bake('sign-fails');
  assert.equal(again.code, 0, why(again));
  assert.equal(again.outputs['digest'], digest);
  assert.equal(again.outputs['reused'], 'true');
  assert.match(again.summary, /signature<\/td><td>signed now</);
  assert.ok(await signatureDigest('sign-fails', digest));
  assert.deepEqual(
    (await verifyIndependently('sign-fails', digest, signer())).map((v) => v.optional.Subject),
    [signer()],
  );
  assertNoLeaks(again);
});

test('a transient cosign sign failure is retried in the run, looking again first, and one signature results', {
  skip: NEEDS_STANDINS,
}, async () => {
  signFault('fail', FULCIO_503);
  const result = await bake('sign-passing');
  assert.equal(result.code, 0, why(result));
  assert.match(
    result.stdout,
    /503 Service Unavailable[\s\S]*cosign sign attempt 1 failed on something passing/,
  );
  assert.equal(cosignCalls('sign').length, 2, 'the failed attempt and the one that signed');
  // Before the second attempt the signatures were looked at again (the look before the first is a registry read).
  assert.equal(
    cosignCalls('verify').length >= 2,
    true,
    'a look before the retry, and the verification after',
  );
  assert.deepEqual(await signers('sign-passing', result), [signer()], 'exactly one signature');
  assertNoLeaks(result);
});

test('a cosign sign that wrote its signature but failed after is not repeated: the look finds it', {
  skip: NEEDS_STANDINS,
}, async () => {
  // cosign signs, then fails as if the answer were lost: a retry without looking would sign a second time.
  signFault('exit1-after-work', 'signing: PUT https://127.0.0.1/v2/x/manifests/sha256-x.sig: unexpected EOF');
  const result = await bake('sign-landed');
  assert.equal(result.code, 0, why(result));
  assert.equal(cosignCalls('sign').length, 1, 'not signed a second time');
  assert.match(result.stdout, /cosign sign reported a failure, but \S+ is signed by/);
  assert.deepEqual(await signers('sign-landed', result), [signer()], 'one signature in the registry');
  assertNoLeaks(result);
});

test('a cosign sign refused for good (401) fails at once, without another attempt', {
  skip: NEEDS_STANDINS,
}, async () => {
  signFault(
    'fail',
    'signing: PUT https://127.0.0.1/v2/x/manifests/sha256-x.sig: unexpected status code 401 Unauthorized: DENIED',
  );
  const result = await bake('sign-denied');
  assert.equal(result.code, 1, why(result));
  assert.equal(cosignCalls('sign').length, 1);
  assert.match(result.failure ?? '', /^sign: cosign sign \S+ failed \(exit 1\):\n.*401 Unauthorized/);
  assertNoLeaks(result);
});

test('a certificate-identity this run cannot sign as fails with expected versus found, before and after signing', {
  skip: NEEDS_STANDINS,
}, async () => {
  const wrong = 'https://github.com/maestra-io/other-repo/.github/workflows/release.yml@refs/heads/main';
  const fresh = await bake('wrong-identity', { 'certificate-identity': wrong });
  assert.equal(fresh.code, 1, why(fresh));
  assert.match(
    fresh.failure ?? '',
    new RegExp(
      `^sign: certificate-identity expects ${wrong.replace(/[.]/g, '\\.')}, but this run would sign as ${signer().replace(/[.]/g, '\\.')}`,
    ),
  );
  assert.match(
    fresh.failure ?? '',
    new RegExp(
      `the artifact has no signature by it — set \`certificate-identity\` to ${escapeRegExp(signer())},`,
    ),
  );
  const digest = fresh.outputs['digest'] ?? '';
  assert.equal(cosignCalls('sign').length, 0, 'no useless signature is written');
  assert.equal(await signatureDigest('wrong-identity', digest), undefined);
  assertNoLeaks(fresh);

  // Signed by this workflow; asked again for another signer: what cosign found is named.
  const signed = await bake('wrong-identity');
  assert.equal(signed.code, 0, why(signed));
  fx.world.counters.reset();
  clearCalls(fx.world.controlDir);
  const mismatch = await bake('wrong-identity', { 'certificate-identity': wrong });
  assert.equal(mismatch.code, 1, why(mismatch));
  assert.ok(
    mismatch.failure?.includes(`expects ${wrong}, but this run would sign as ${signer()}`) &&
      mismatch.failure.includes(`the artifact is signed only by ${signer()}`),
    mismatch.failure,
  );
  assert.equal(manifestPuts(), 0);
  assertNoLeaks(mismatch);
});

test('a signer mismatch at verification fails at once, showing expected and found identity', {
  skip: NEEDS_STANDINS,
}, async () => {
  // cosign's own `got subjects [...]` for the first verification after signing (a fresh push needs no check before).
  addToolFault(fx.world.controlDir, { tool: 'cosign', command: 'verify', mode: 'verify-fail' });
  const result = await bake('verify-mismatch');
  assert.equal(result.code, 1, why(result));
  const digest = result.outputs['digest'] ?? '';
  assert.equal(
    result.failure,
    `verify-signature: no signature of ${fx.world.registryHost}/verify-mismatch-manifests@${digest} matches: expected identity ${signer()} (issuer https://token.actions.githubusercontent.com), found injected-failure (issuer https://token.actions.githubusercontent.com) — set \`certificate-identity\` (and \`certificate-oidc-issuer\`) to the signer Flux is told to trust, or leave it empty to expect this workflow`,
  );
  assert.equal(cosignCalls('verify').length, 1, 'a mismatch is not retried');
  assertNoLeaks(result);
});

test('sign: false signs nothing, installs no cosign, and says so in the summary', {
  skip: NEEDS_STANDINS,
}, async () => {
  const result = await bake('unsigned', { sign: 'false' });
  assert.equal(result.code, 0, why(result));
  assert.equal(readCalls(fx.world.controlDir, 'cosign').length, 0);
  assert.equal(await signatureDigest('unsigned', result.outputs['digest'] ?? ''), undefined);
  assert.match(result.summary, /signature<\/td><td>⚠️ not signed \(<code>sign: false<\/code>\)/);
  assert.match(result.summary, /<td>verify-signature<\/td><td>⏭️ skipped<\/td>.*sign: false/);
  assert.ok(result.annotations.some((a) => a.level === 'warning' && /sign: false/.test(a.message)));
  assertNoLeaks(result);
});

test('a dry run neither signs nor verifies', { skip: NEEDS_STANDINS }, async () => {
  const result = await bake('signed', { 'dry-run': 'true' });
  assert.equal(result.code, 0, why(result));
  assert.equal(readCalls(fx.world.controlDir, 'cosign').length, 0);
  assert.equal(fx.world.counters.get('oidc', 'token'), 0);
  assert.match(result.summary, /<td>sign<\/td><td>⏭️ skipped/);
  assert.match(result.summary, /<td>verify-signature<\/td><td>⏭️ skipped/);
});
