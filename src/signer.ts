import * as core from '@actions/core';
import { ActionError } from './errors.ts';
import { classifyHttp, getJson, HTTP_BACKOFF, shown } from './http.ts';
import { checkJwt, type JwtClaims, JwtError } from './jwt.ts';
import { type RetryOptions, retry } from './retry.ts';

/** The audience Fulcio accepts for GitHub tokens. */
export const SIGSTORE_AUDIENCE = 'sigstore';

// owner/repo/path/to/workflow.yml@ref, as GitHub puts it in job_workflow_ref.
const JOB_WORKFLOW_REF = /^[\w.-]+\/[\w.-]+\/\S+@\S+$/;

export interface SigningToken {
  token: string;
  expiresAt: Date;
  /** `iss`: Fulcio writes it into the certificate as the signer's issuer. */
  issuer: string;
  /** The identity Fulcio writes into the certificate for this token: `<server URL>/<job_workflow_ref>`. */
  identity: string;
}

/**
 * The signer identity Fulcio derives from a GitHub Actions token: its GitHub workflow template is
 * `{{ .url }}/{{ .job_workflow_ref }}` (sigstore/fulcio, ciprovider), `url` being https://github.com for
 * GitHub's own issuer and the server a GitHub Enterprise Server's Fulcio is configured with.
 */
export function signerIdentity(claims: JwtClaims, serverUrl: string): string {
  const ref = claims['job_workflow_ref'];
  if (typeof ref !== 'string' || !JOB_WORKFLOW_REF.test(ref)) {
    throw new ActionError(
      `the run's OIDC token has no usable job_workflow_ref claim (${JSON.stringify(ref ?? null)})`,
      { hint: 'set `certificate-identity` to the expected signer' },
    );
  }
  return `${serverUrl}/${ref}`;
}

/** Reads and checks a `sigstore` token: audience, expiry, and the identity it signs as. */
export function readSigningToken(token: string, serverUrl: string, now = new Date()): SigningToken {
  try {
    const { claims, expiresAt } = checkJwt(token, { audience: SIGSTORE_AUDIENCE, now });
    if (typeof claims.iss !== 'string' || claims.iss === '') throw new JwtError('it has no iss claim');
    return { token, expiresAt, issuer: claims.iss, identity: signerIdentity(claims, serverUrl) };
  } catch (error) {
    if (error instanceof JwtError) {
      throw new ActionError(`the run's OIDC token for Sigstore is unusable: ${error.message}`, {
        hint: 're-run the job',
      });
    }
    throw error;
  }
}

/** A token request is a few hundred bytes: a silent endpoint is abandoned after this and asked again. */
export const ID_TOKEN_TIMEOUT_MS = 15_000;

export interface IdTokenOptions {
  signal?: AbortSignal;
  env?: NodeJS.ProcessEnv;
  /** Overrides of the retry (tests pass a no-op sleep). */
  retry?: Partial<Omit<RetryOptions, 'classify' | 'signal'>>;
  onRetry?: (message: string) => void;
}

/**
 * The run's OIDC token for `audience`, as `core.getIDToken` asks for it (`<request URL>&audience=…`, bearer
 * request token), but through the action's transport, with its timeout and a classified retry: getIDToken
 * waits 3 minutes on a silent endpoint and does not retry a dropped connection.
 */
export async function fetchIdToken(audience: string, options: IdTokenOptions = {}): Promise<string> {
  const env = options.env ?? process.env;
  const base = env['ACTIONS_ID_TOKEN_REQUEST_URL'];
  const bearer = env['ACTIONS_ID_TOKEN_REQUEST_TOKEN'];
  if (!base || !bearer)
    throw new Error('ACTIONS_ID_TOKEN_REQUEST_URL or ACTIONS_ID_TOKEN_REQUEST_TOKEN is not set');
  const url = `${base}&audience=${encodeURIComponent(audience)}`;
  return retry(
    async () => {
      const answer = await getJson(url, {
        headers: { authorization: `Bearer ${bearer}` },
        signal: options.signal,
        timeoutMs: ID_TOKEN_TIMEOUT_MS,
      });
      const value = (answer as { value?: unknown } | null)?.value;
      if (typeof value !== 'string' || value === '') throw new Error(`GET ${shown(url)} answered no token`);
      core.setSecret(value);
      return value;
    },
    {
      ...HTTP_BACKOFF,
      ...options.retry,
      classify: classifyHttp,
      ...(options.signal ? { signal: options.signal } : {}),
      onRetry: (error, n, ms) =>
        options.onRetry?.(
          `OIDC token request attempt ${n} failed (${error instanceof Error ? error.message : String(error)}); retrying in ${ms} ms`,
        ),
    },
  );
}

/** Asks GitHub for the run's OIDC token with audience `sigstore`, masked before anything can print it. */
export async function requestSigningToken(
  serverUrl: string,
  getIDToken: (audience: string) => Promise<string> = fetchIdToken,
): Promise<SigningToken> {
  let token: string;
  try {
    token = await getIDToken(SIGSTORE_AUDIENCE);
  } catch (error) {
    throw new ActionError("cannot get the run's OIDC token for keyless signing", {
      hint: 'add `permissions: id-token: write` to the job, or set `sign: false`; if it is set, re-run the job',
      cause: error,
    });
  }
  // A getter other than fetchIdToken (which masks) may hand back an unmasked token.
  core.setSecret(token);
  return readSigningToken(token, serverUrl);
}
