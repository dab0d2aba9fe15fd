import * as core from '@actions/core';
import { ActionError } from './errors.ts';
import { checkJwt, type JwtClaims, JwtError } from './jwt.ts';

/** The audience Fulcio accepts for GitHub tokens. */
export const SIGSTORE_AUDIENCE = 'sigstore';
export const GITHUB_ISSUER = 'https://token.actions.githubusercontent.com';

// owner/repo/path/to/workflow.yml@ref, as GitHub puts it in job_workflow_ref.
const JOB_WORKFLOW_REF = /^[\w.-]+\/[\w.-]+\/\S+@\S+$/;

export interface SigningToken {
  token: string;
  expiresAt: Date;
  /** `iss`: Fulcio writes it into the certificate as the signer's issuer. */
  issuer: string;
  /** The identity Fulcio writes into the certificate for this token: `https://github.com/<job_workflow_ref>`. */
  identity: string;
}

/** The signer identity Fulcio derives from a GitHub Actions token's claims. */
export function signerIdentity(claims: JwtClaims): string {
  const ref = claims['job_workflow_ref'];
  if (typeof ref !== 'string' || !JOB_WORKFLOW_REF.test(ref)) {
    throw new ActionError(
      `the run's OIDC token has no usable job_workflow_ref claim (${JSON.stringify(ref ?? null)})`,
      { hint: 'set `certificate-identity` to the expected signer' },
    );
  }
  return `https://github.com/${ref}`;
}

/** Reads and checks a `sigstore` token: audience, expiry, and the identity it signs as. */
export function readSigningToken(token: string, now = new Date()): SigningToken {
  try {
    const { claims, expiresAt } = checkJwt(token, { audience: SIGSTORE_AUDIENCE, now });
    if (typeof claims.iss !== 'string' || claims.iss === '') throw new JwtError('it has no iss claim');
    return { token, expiresAt, issuer: claims.iss, identity: signerIdentity(claims) };
  } catch (error) {
    if (error instanceof JwtError) {
      throw new ActionError(`the run's OIDC token for Sigstore is unusable: ${error.message}`, {
        hint: 're-run the job',
      });
    }
    throw error;
  }
}

/** Asks GitHub for the run's OIDC token with audience `sigstore`, masked before anything can print it. */
export async function requestSigningToken(
  getIDToken: (audience: string) => Promise<string> = core.getIDToken,
): Promise<SigningToken> {
  let token: string;
  try {
    token = await getIDToken(SIGSTORE_AUDIENCE);
  } catch (error) {
    throw new ActionError("cannot get the run's OIDC token for keyless signing", {
      hint: 'add `permissions: id-token: write` to the job, or set `sign: false`',
      cause: error,
    });
  }
  core.setSecret(token);
  return readSigningToken(token);
}
