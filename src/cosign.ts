import semver from 'semver';
import { ActionError } from './errors.ts';
import { type ExecResult, exec, tail } from './exec.ts';
import { type RetryOptions, retry } from './retry.ts';

/**
 * cosign's CLI as this action drives it: keyless `sign` and exact-identity `verify` of one digest,
 * with the signature kept in the tag format (`sha256-<hex>.sig`) that Flux before 2.8 and cosign v2 read.
 */

export interface VerifyTarget {
  /** `<registry>/<repository>@sha256:<hex>`: always by digest, never by tag. */
  artifact: string;
  identity: string;
  issuer: string;
}

/**
 * Exit codes of `cosign verify` by digest, as 2.6.x really returns them (cmd/cosign/errors/exit_code_lookup.go,
 * pkg/cosign/verify.go): 10 when there is no signature (a digest is never looked up, so a missing digest is 10
 * too), 12 when none matches. A key-only signature is folded into 12 ("no certificate found on signature"): 13
 * and 11 (a missing tag) never come back for a digest reference.
 */
export const EXIT = {
  noSignatures: 10,
  noMatch: 12,
} as const;

/** How cosign says, inside exit 12, that a signature has no certificate: 2.6.1, and with a bundle from 2.6.2. */
const NO_CERTIFICATE = /no certificate found on signature|nil certificate provided/;

/** What one `cosign verify` run said. */
export type VerifyOutcome =
  | { kind: 'verified' }
  | { kind: 'no-signatures'; stderr: string }
  /** Signatures exist, but their certificates name other signers (`got subjects [...]`). */
  | { kind: 'mismatch'; subjects: string[]; issuers: string[]; stderr: string }
  /** Exit 12 for another reason: transparency log, certificate chain, SCT. */
  | { kind: 'no-match'; stderr: string }
  | { kind: 'no-certificate'; stderr: string }
  | { kind: 'failed'; code: number; timedOut: boolean; stderr: string };

/**
 * cosign v3 signs into an OCI 1.1 referrer bundle by default; these flags keep v2's tag format.
 * The v2 line has the same defaults and 2.6 accepts the flags, but older v2 releases reject them.
 */
export function legacyFormatFlags(version: string, command: 'sign' | 'verify'): string[] {
  if (semver.major(version) < 3) return [];
  return command === 'sign'
    ? ['--new-bundle-format=false', '--use-signing-config=false']
    : ['--new-bundle-format=false'];
}

export function verifyArgs(version: string, target: VerifyTarget): string[] {
  return [
    'verify',
    ...legacyFormatFlags(version, 'verify'),
    '--certificate-identity',
    target.identity,
    '--certificate-oidc-issuer',
    target.issuer,
    '--output',
    'json',
    target.artifact,
  ];
}

/** The tag cosign keeps the signatures of `digest` under: `sha256-<hex>.sig`. */
export const signatureTag = (digest: string): string => `${digest.replace(':', '-')}.sig`;

/** One key per signature in a cosign signature manifest: its payload digest and the signature over it. */
export function signatureLayers(body: Buffer): string[] {
  const json = JSON.parse(body.toString('utf8')) as {
    layers?: { digest?: string; annotations?: Record<string, string> }[];
  };
  return (json.layers ?? []).map(
    (l) => `${l.digest ?? ''} ${l.annotations?.['dev.cosignproject.cosign/signature'] ?? ''}`,
  );
}

export function signArgs(version: string, artifact: string): string[] {
  return ['sign', '--yes', ...legacyFormatFlags(version, 'sign'), artifact];
}

/**
 * The environment cosign runs with, `base` being one without the runner's OIDC request variables (toolEnv), so
 * cosign never fetches a token of its own: the run's one token arrives as SIGSTORE_ID_TOKEN. Every COSIGN_*
 * variable goes too: cosign reads each of its flags from one (options/root.go binds them with the prefix
 * COSIGN), so COSIGN_IDENTITY_TOKEN would beat that token and COSIGN_REPOSITORY move the signatures elsewhere.
 */
export function cosignEnv(base: NodeJS.ProcessEnv, idToken?: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(base)) {
    if (!name.startsWith('COSIGN_') && name !== 'SIGSTORE_ID_TOKEN') env[name] = value;
  }
  if (idToken !== undefined) env['SIGSTORE_ID_TOKEN'] = idToken;
  return env;
}

/**
 * Failures of `cosign sign` that a second attempt may not meet: Fulcio, Rekor or the registry answering 5xx or
 * 429, and connections reset, refused or timing out (Go's error texts). An identity or permission problem is
 * not among them.
 */
const TRANSIENT_SIGN =
  /\b(?:429|50[0234])\b|Too Many Requests|Internal Server Error|Bad Gateway|Service Unavailable|Gateway Timeout|connection reset|connection refused|i\/o timeout|TLS handshake timeout|context deadline exceeded|unexpected EOF|temporarily unavailable/i;

/** Whether a failed `cosign sign` is worth another attempt, judged by its output (or a timeout of ours). */
export const transientSignFailure = (stderr: string, timedOut: boolean): boolean =>
  timedOut || TRANSIENT_SIGN.test(stderr);

/** Signers and issuers named by cosign's `got subjects [a, b] with issuer X`, once each. */
export function parseSubjects(stderr: string): { subjects: string[]; issuers: string[] } {
  const subjects = new Set<string>();
  const issuers = new Set<string>();
  for (const match of stderr.matchAll(/got subjects \[([^\]]*)\] with issuer (\S*)/g)) {
    for (const subject of (match[1] ?? '').split(', ')) if (subject.trim()) subjects.add(subject.trim());
    if (match[2]) issuers.add(match[2]);
  }
  return { subjects: [...subjects], issuers: [...issuers] };
}

/** Turns a finished `cosign verify` into its meaning, by exit code and, for 12, by what it found. */
export function classifyVerify(result: Pick<ExecResult, 'code' | 'stderr' | 'timedOut'>): VerifyOutcome {
  const { stderr } = result;
  if (result.timedOut) return { kind: 'failed', code: result.code, timedOut: true, stderr };
  switch (result.code) {
    case 0:
      return { kind: 'verified' };
    case EXIT.noSignatures:
      return { kind: 'no-signatures', stderr };
    case EXIT.noMatch: {
      const found = parseSubjects(stderr);
      if (found.subjects.length > 0) return { kind: 'mismatch', ...found, stderr };
      return NO_CERTIFICATE.test(stderr) ? { kind: 'no-certificate', stderr } : { kind: 'no-match', stderr };
    }
    default:
      return { kind: 'failed', code: result.code, timedOut: false, stderr };
  }
}

/** One line per outcome that names what was expected and, for a mismatch, what was found. */
export function describeVerify(outcome: VerifyOutcome, target: VerifyTarget): string {
  const expected = `identity ${target.identity} (issuer ${target.issuer})`;
  switch (outcome.kind) {
    case 'verified':
      return `${target.artifact} is signed by ${expected}`;
    case 'no-signatures':
      return `no signatures found for ${target.artifact} (cosign exit 10)`;
    case 'mismatch': {
      const issuers = outcome.issuers.length > 0 ? ` (issuer ${outcome.issuers.join(', ')})` : '';
      return `no signature of ${target.artifact} matches: expected ${expected}, found ${outcome.subjects.join(', ')}${issuers}`;
    }
    case 'no-match':
      return `no signature of ${target.artifact} verifies for ${expected} (cosign exit 12):\n${tail(outcome.stderr, 10)}`;
    case 'no-certificate':
      return `the signatures of ${target.artifact} carry no certificate, so none is a keyless signature by ${expected} (cosign exit 12, no certificate)`;
    case 'failed':
      return outcome.timedOut
        ? `cosign verify of ${target.artifact} timed out:\n${tail(outcome.stderr, 10)}`
        : `cosign verify of ${target.artifact} failed (exit ${outcome.code}):\n${tail(outcome.stderr, 10)}`;
  }
}

/** What to do about a verify outcome that is final. */
export function verifyHint(outcome: VerifyOutcome): string {
  switch (outcome.kind) {
    case 'mismatch':
      return 'set `certificate-identity` (and `certificate-oidc-issuer`) to the signer Flux is told to trust, or leave it empty to expect this workflow';
    case 'no-certificate':
      return 'the artifact was signed with a key; sign it keyless or verify it with that key';
    default:
      return 'Sigstore or the registry may lag; re-run the job (it reuses the artifact and signs only if needed)';
  }
}

/** A verify outcome that is not `verified`, carried as an error through retry. */
export class VerifyFailure extends ActionError {
  constructor(
    readonly outcome: Exclude<VerifyOutcome, { kind: 'verified' }>,
    target: VerifyTarget,
  ) {
    super(describeVerify(outcome, target), { hint: verifyHint(outcome) });
    this.name = 'VerifyFailure';
  }
}

/** A signer mismatch or a key-only signature will not change by waiting; anything else may be lag. */
export function classifyVerifyFailure(error: unknown): 'retry' | 'fail' {
  if (!(error instanceof VerifyFailure)) return 'fail';
  return error.outcome.kind === 'mismatch' || error.outcome.kind === 'no-certificate' ? 'fail' : 'retry';
}

/** One verification takes seconds (the first also fetches Sigstore's TUF root); a hang must not eat a deadline. */
export const VERIFY_TIMEOUT_MS = 30_000;

export interface CosignRun {
  path: string;
  version: string;
  env: NodeJS.ProcessEnv;
  signal: AbortSignal;
  timeoutMs: number;
}

/** Runs `cosign verify` once. */
export async function verifyOnce(cosign: CosignRun, target: VerifyTarget): Promise<VerifyOutcome> {
  const result = await exec(cosign.path, verifyArgs(cosign.version, target), {
    env: cosign.env,
    signal: cosign.signal,
    timeoutMs: cosign.timeoutMs,
  });
  return classifyVerify(result);
}

/**
 * Verifies until it passes, fails for good, or the deadline passes; returns the attempts it took.
 * `verify` is injectable so the backoff is testable without cosign.
 */
export async function verifyWithBackoff(
  verify: () => Promise<VerifyOutcome>,
  target: VerifyTarget,
  options: Omit<RetryOptions, 'classify'>,
): Promise<number> {
  let attempts = 0;
  await retry(
    async () => {
      attempts++;
      const outcome = await verify();
      if (outcome.kind !== 'verified') throw new VerifyFailure(outcome, target);
    },
    { ...options, classify: classifyVerifyFailure },
  );
  return attempts;
}

/** Outcomes that say nothing about the signatures: cosign could not look (exit 1, a timeout). */
const INCONCLUSIVE = new Set<VerifyOutcome['kind']>(['failed']);

/** How long the check before signing keeps asking while cosign cannot tell. */
export const PRECHECK_BACKOFF = { attempts: 3, baseMs: 2_000, maxDelayMs: 8_000 };

/**
 * `cosign verify` until it says something about the signatures: verified, or a definite "not by this signer".
 * Signing after an inconclusive look could add a second signature to an artifact that already has one.
 */
export async function verifyConclusively(
  cosign: CosignRun,
  target: VerifyTarget,
  options: Partial<Omit<RetryOptions, 'classify'>>,
  verify: () => Promise<VerifyOutcome> = () => verifyOnce(cosign, target),
): Promise<VerifyOutcome> {
  try {
    return await retry(
      async () => {
        const outcome = await verify();
        if (INCONCLUSIVE.has(outcome.kind))
          throw new VerifyFailure(outcome as Exclude<VerifyOutcome, { kind: 'verified' }>, target);
        return outcome;
      },
      {
        ...PRECHECK_BACKOFF,
        ...options,
        classify: (error) => (error instanceof VerifyFailure ? 'retry' : 'fail'),
      },
    );
  } catch (error) {
    if (!(error instanceof VerifyFailure)) throw error;
    throw new ActionError(`cannot tell whether ${target.artifact} is already signed: ${error.message}`, {
      hint: 'nothing was signed; re-run the job (it reuses the pushed artifact and signs only if needed)',
    });
  }
}
