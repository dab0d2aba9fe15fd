import { toolEnv } from '../child-env.ts';
import { type Context, code, need } from '../context.ts';
import {
  type CosignRun,
  cosignEnv,
  describeVerify,
  signArgs,
  signatureTag,
  transientSignFailure,
  VERIFY_TIMEOUT_MS,
  type VerifyOutcome,
  type VerifyTarget,
  verifyConclusively,
} from '../cosign.ts';
import { fixCommand } from '../ecr.ts';
import { ActionError } from '../errors.ts';
import { exec, tail } from '../exec.ts';
import type { Log } from '../log.ts';
import { ociClientFor } from '../oci.ts';
import { remoteOnly, stage } from '../pipeline.ts';
import { retry } from '../retry.ts';
import { Renewing } from '../session.ts';
import { fetchIdToken, requestSigningToken, type SigningToken } from '../signer.ts';

/** Who signs (or signed) the artifact and whether this run wrote the signature. */
export type Signing =
  | { enabled: false }
  | { enabled: true; identity: string; issuer: string; signedNow: boolean };

declare module '../context.ts' {
  interface Results {
    sign: Signing;
  }
}

const SIGN_TIMEOUT_MS = 5 * 60_000;
// Fulcio must see the token unexpired: one with less left than this is asked for again before an attempt.
const TOKEN_MARGIN_MS = 60_000;
/** Attempts of `cosign sign` on transient failures; before each retry the signatures are looked at again. */
export const SIGN_BACKOFF = { attempts: 4, baseMs: 2_000, maxDelayMs: 15_000 };

/** A failed `cosign sign`, and whether another attempt may succeed. */
class SignFailure extends ActionError {
  constructor(
    message: string,
    hint: string,
    readonly transient: boolean,
  ) {
    super(message, { hint });
    this.name = 'SignFailure';
  }
}

/** The signer to expect: `certificate-identity` when set, else the identity in the run's own token. */
export function expectedIdentity(input: string | undefined, token: SigningToken | undefined): string {
  if (input !== undefined) return input;
  if (!token) throw new Error('internal: no token to derive the signer identity from');
  return token.identity;
}

/**
 * A keyless signature from this run names the run's own token: its issuer, and its workflow as Fulcio writes it.
 * Expecting anything else could never verify, so refuse before writing a useless signature.
 */
export function identityConflict(
  expected: string,
  issuer: string,
  token: SigningToken,
  found: string,
): ActionError | undefined {
  if (issuer !== token.issuer) {
    return new ActionError(
      `certificate-oidc-issuer expects ${issuer}, but this run's OIDC token is issued by ${token.issuer}, and ${found}`,
      { hint: `set \`certificate-oidc-issuer\` to ${token.issuer}, or sign from a run of that issuer` },
    );
  }
  if (expected === token.identity) return undefined;
  return new ActionError(
    `certificate-identity expects ${expected}, but this run would sign as ${token.identity} (the job_workflow_ref of its OIDC token), and ${found}`,
    {
      hint: `set \`certificate-identity\` to ${token.identity}, leave it empty to expect this workflow, or sign from the workflow it names`,
    },
  );
}

function signHint(ctx: Context, stderr: string): string {
  if (/TAG_INVALID|tag invalid|immutable/i.test(stderr)) {
    return `the repository refuses to rewrite the signature tag; allow sha256-* tags to change: ${fixCommand(ctx.inputs.registry, ctx.inputs.repository)}`;
  }
  return 'see cosign’s message above; a re-run reuses the pushed artifact and signs it';
}

/** One `cosign sign` by digest with the run's token; a failure says whether it is worth another attempt. */
async function cosignSign(ctx: Context, log: Log, cosign: CosignRun, artifact: string, token: SigningToken) {
  const args = signArgs(cosign.version, artifact);
  log.info(`cosign ${args.join(' ')}`);
  const result = await exec(cosign.path, args, {
    env: cosignEnv(cosign.env, token.token),
    signal: ctx.signal,
    timeoutMs: SIGN_TIMEOUT_MS,
  });
  for (const line of result.stderr.trimEnd().split('\n')) if (line) log.info(line);
  if (result.code !== 0) {
    const why = result.timedOut ? `timed out after ${SIGN_TIMEOUT_MS / 60_000} min` : `exit ${result.code}`;
    throw new SignFailure(
      `cosign sign ${artifact} failed (${why}):\n${tail(result.stderr)}`,
      signHint(ctx, result.stderr),
      transientSignFailure(result.stderr, result.timedOut),
    );
  }
}

/**
 * Signs, retrying transient failures. Before each retry, and before giving up, it looks again: a failed attempt
 * may have written its signature (cosign can fail while reading the answer), and a second one must never follow.
 */
async function signWithRetries(
  ctx: Context,
  log: Log,
  attempt: () => Promise<void>,
  signed: () => Promise<boolean>,
): Promise<'signed' | 'found'> {
  try {
    return await retry(
      async (n) => {
        if (n > 1 && (await signed())) return 'found';
        await attempt();
        return 'signed';
      },
      {
        ...SIGN_BACKOFF,
        classify: (error) => (error instanceof SignFailure && error.transient ? 'retry' : 'fail'),
        signal: ctx.signal,
        onRetry: (_error, n, ms) =>
          log.info(`cosign sign attempt ${n} failed on something passing; looking again in ${ms} ms`),
      },
    );
  } catch (error) {
    if (ctx.signal.aborted || !(await signed().catch(() => false))) throw error;
    return 'found';
  }
}

/** The run's OIDC token for Sigstore: asked for when first needed, and again only when near its expiry. */
function signingTokens(ctx: Context, log: Log): () => Promise<SigningToken> {
  const token = new Renewing<SigningToken>(
    undefined,
    (t) => t.expiresAt,
    () =>
      requestSigningToken(ctx.runner.serverUrl, (audience) =>
        fetchIdToken(audience, { signal: ctx.signal, onRetry: (message) => log.info(message) }),
      ),
    TOKEN_MARGIN_MS,
  );
  return () => token.get(log);
}

/** cosign with this run's registry login, and whether the digest's signature tag exists (asked at once). */
async function cosignForRun(ctx: Context, log: Log, digest: string) {
  const installed = need(ctx, 'install-cosign');
  const registry = await need(ctx, 'login').fresh(log);
  const sigTag = signatureTag(digest);
  // When the registry cannot tell, cosign looks.
  const tagged = ociClientFor(ctx, log, ctx.inputs.registry.host, registry.authorization)
    .headManifest(ctx.inputs.repository, sigTag)
    .then(
      (head) => head !== undefined,
      () => true,
    );
  const cosign: CosignRun = {
    path: installed.path,
    version: installed.version,
    env: cosignEnv(toolEnv(registry.dockerConfig)),
    signal: ctx.signal,
    timeoutMs: VERIFY_TIMEOUT_MS,
  };
  return { cosign, sigTag, tagged };
}

/**
 * What the artifact's signatures say before signing. Without a `sha256-<hex>.sig` tag there is none to find: one
 * registry request instead of a cosign run on every fresh push. Otherwise only a definite answer counts: a
 * verify that failed to look could hide a signature.
 */
async function lookBeforeSigning(
  ctx: Context,
  log: Log,
  run: Awaited<ReturnType<typeof cosignForRun>>,
  target: VerifyTarget,
): Promise<VerifyOutcome> {
  if (!(await run.tagged)) {
    log.info(`not signed yet: no tag ${run.sigTag} in ${ctx.inputs.repository}`);
    return { kind: 'no-signatures', stderr: '' };
  }
  const outcome = await verifyConclusively(run.cosign, target, {
    signal: ctx.signal,
    onRetry: (error, n, ms) =>
      log.info(
        `attempt ${n}: ${error instanceof Error ? error.message : String(error)}; retrying in ${ms} ms`,
      ),
  });
  if (outcome.kind !== 'verified') log.info(`not signed yet: ${describeVerify(outcome, target)}`);
  return outcome;
}

export const sign = stage({
  name: 'sign',
  needs: ['push', 'login'],
  // Read only when signing; when `sign: false` it is skipped and this stage just says so.
  after: ['install-cosign'],
  skip: remoteOnly,
  async run(ctx, log) {
    if (!ctx.inputs.sign) {
      log.warning(
        'sign: false: the artifact is not signed; a Flux OCIRepository with `verify.provider: cosign` will refuse it',
      );
      ctx.facts.push({ label: 'signature', value: ['⚠️ not signed (', code('sign: false'), ')'] });
      return { enabled: false };
    }
    const { artifact, digest } = need(ctx, 'push');
    const run = await cosignForRun(ctx, log, digest);
    const signingToken = signingTokens(ctx, log);
    const target: VerifyTarget = {
      artifact,
      identity: expectedIdentity(
        ctx.inputs.certificateIdentity,
        ctx.inputs.certificateIdentity === undefined ? await signingToken() : undefined,
      ),
      issuer: ctx.inputs.certificateOidcIssuer,
    };
    ctx.facts.push(
      { label: 'signer identity', value: code(target.identity) },
      { label: 'signer issuer', value: code(target.issuer) },
    );
    const before = await lookBeforeSigning(ctx, log, run, target);
    if (before.kind === 'verified') {
      log.info(`✔ ${artifact} is already signed by ${target.identity}; no new signature written`);
      ctx.facts.push({ label: 'signature', value: 'already signed' });
      return { enabled: true, identity: target.identity, issuer: target.issuer, signedNow: false };
    }

    const signer = await signingToken();
    const found =
      before.kind === 'mismatch'
        ? `the artifact is signed only by ${before.subjects.join(', ')}`
        : 'the artifact has no signature by it';
    const conflict = identityConflict(target.identity, target.issuer, signer, found);
    if (conflict) throw conflict;
    const outcome = await signWithRetries(
      ctx,
      log,
      async () => {
        // Each attempt with a live token and registry login: retries can outlast either.
        await need(ctx, 'login').fresh(log);
        await cosignSign(ctx, log, run.cosign, artifact, await signingToken());
      },
      async () => (await verifyConclusively(run.cosign, target, { signal: ctx.signal })).kind === 'verified',
    );
    if (outcome === 'found') {
      log.warning(
        `cosign sign reported a failure, but ${artifact} is signed by ${target.identity}; continuing`,
      );
    }
    log.info(`✔ signed ${artifact} as ${signer.identity}`);
    ctx.facts.push({ label: 'signature', value: 'signed now' });
    return { enabled: true, identity: target.identity, issuer: target.issuer, signedNow: true };
  },
});
