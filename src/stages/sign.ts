import { toolEnv } from '../child-env.ts';
import { type Context, code, need } from '../context.ts';
import {
  type CosignRun,
  cosignEnv,
  describeVerify,
  signArgs,
  signatureTag,
  VERIFY_TIMEOUT_MS,
  type VerifyOutcome,
  type VerifyTarget,
  verifyConclusively,
  verifyOnce,
} from '../cosign.ts';
import { fixCommand } from '../ecr.ts';
import { ActionError } from '../errors.ts';
import { exec, tail } from '../exec.ts';
import type { Log } from '../log.ts';
import { ociClientFor } from '../oci.ts';
import { remoteOnly, stage } from '../pipeline.ts';
import { fetchIdToken, GITHUB_ISSUER, requestSigningToken, type SigningToken } from '../signer.ts';

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
// Fulcio must see the token unexpired; below this margin a sign is not worth starting.
const TOKEN_MARGIN_MS = 15_000;

/** The signer to expect: `certificate-identity` when set, else the identity in the run's own token. */
export function expectedIdentity(input: string | undefined, token: SigningToken | undefined): string {
  if (input !== undefined) return input;
  if (!token) throw new Error('internal: no token to derive the signer identity from');
  return token.identity;
}

/**
 * A keyless signature from this run names the run's own token: its issuer always, and with GitHub's
 * issuer its workflow. Expecting anything else could never verify, so refuse before writing a useless signature.
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
  if (issuer !== GITHUB_ISSUER || expected === token.identity) return undefined;
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

async function cosignSign(ctx: Context, log: Log, cosign: CosignRun, artifact: string, token: SigningToken) {
  const left = token.expiresAt.getTime() - Date.now();
  if (left < TOKEN_MARGIN_MS) {
    throw new ActionError(
      `the run's OIDC token for Sigstore expires at ${token.expiresAt.toISOString()}, too soon to sign`,
      { hint: 're-run the job; it reuses the pushed artifact' },
    );
  }
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
    throw new ActionError(`cosign sign ${artifact} failed (${why}):\n${tail(result.stderr)}`, {
      hint: signHint(ctx, result.stderr),
    });
  }
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
    const installed = need(ctx, 'install-cosign');
    const { artifact, digest } = need(ctx, 'push');
    // Without a `sha256-<hex>.sig` tag cosign has no signature to find: one registry request instead of a
    // cosign run on every fresh push. Asked alongside the token; when it cannot tell, cosign looks.
    const sigTag = signatureTag(digest);
    const tagged = ociClientFor(ctx, log, ctx.inputs.ecrRegistry, need(ctx, 'login').authorization)
      .headManifest(ctx.inputs.repository, sigTag)
      .then(
        (head) => head !== undefined,
        () => true,
      );
    const cosign: CosignRun = {
      path: installed.path,
      version: installed.version,
      env: cosignEnv(toolEnv(need(ctx, 'login').dockerConfig)),
      signal: ctx.signal,
      timeoutMs: VERIFY_TIMEOUT_MS,
    };
    // Requested at most once: first when the identity has to come from it, else only if signing is needed.
    let token: SigningToken | undefined;
    const signingToken = async () =>
      (token ??= await requestSigningToken((audience) =>
        fetchIdToken(audience, { signal: ctx.signal, onRetry: (message) => log.info(message) }),
      ));
    if (ctx.inputs.certificateIdentity === undefined) await signingToken();
    const target: VerifyTarget = {
      artifact,
      identity: expectedIdentity(ctx.inputs.certificateIdentity, token),
      issuer: ctx.inputs.certificateOidcIssuer,
    };
    ctx.facts.push(
      { label: 'signer identity', value: code(target.identity) },
      { label: 'signer issuer', value: code(target.issuer) },
    );

    // Only a definite "not signed by it" leads to a signature: a verify that failed to look could hide one.
    const unsigned = !(await tagged);
    const before: VerifyOutcome = unsigned
      ? { kind: 'no-signatures', stderr: '' }
      : await verifyConclusively(cosign, target, {
          signal: ctx.signal,
          onRetry: (error, n, ms) =>
            log.info(
              `attempt ${n}: ${error instanceof Error ? error.message : String(error)}; retrying in ${ms} ms`,
            ),
        });
    if (before.kind === 'verified') {
      log.info(`✔ ${artifact} is already signed by ${target.identity}; no new signature written`);
      ctx.facts.push({ label: 'signature', value: 'already signed' });
      return { enabled: true, identity: target.identity, issuer: target.issuer, signedNow: false };
    }
    log.info(
      `not signed yet: ${unsigned ? `no tag ${sigTag} in ${ctx.inputs.repository}` : describeVerify(before, target)}`,
    );

    const signer = await signingToken();
    const conflict = identityConflict(
      target.identity,
      target.issuer,
      signer,
      before.kind === 'mismatch'
        ? `the artifact is signed only by ${before.subjects.join(', ')}`
        : 'the artifact has no signature by it',
    );
    if (conflict) throw conflict;
    try {
      await cosignSign(ctx, log, cosign, artifact, signer);
    } catch (error) {
      // A signature can land although cosign saw a failure (e.g. while reading the answer): look before failing.
      if ((await verifyOnce(cosign, target).catch(() => undefined))?.kind !== 'verified') throw error;
      log.warning(
        `cosign sign reported a failure, but ${artifact} is signed by ${target.identity}; continuing`,
      );
    }
    log.info(`✔ signed ${artifact} as ${signer.identity}`);
    ctx.facts.push({ label: 'signature', value: 'signed now' });
    return { enabled: true, identity: target.identity, issuer: target.issuer, signedNow: true };
  },
});
