/** The issuer of GitHub Actions OIDC tokens: the issuer cosign records for a keyless signature. */
export const ISSUER = 'https://token.actions.githubusercontent.com';
/** GITHUB_SERVER_URL on github.com: the signer identity is <this>/<job_workflow_ref>. */
export const GITHUB = 'https://github.com';
/** A release workflow's job_workflow_ref: the signer identity is <GITHUB_SERVER_URL>/<this>. */
export const REF = 'maestra-io/sample-service/.github/workflows/release.yml@refs/tags/1.2.3';

const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
/** A JWT with these claims and a signature nobody checks: what the action reads, not what it verifies. */
export const jwt = (claims: object) => `${part({ alg: 'RS256', typ: 'JWT' })}.${part(claims)}.c2lnbmF0dXJl`;
/** An `exp` five minutes from now. */
export const inFiveMinutes = () => Math.floor(Date.now() / 1000) + 300;
/** The tag cosign keeps the signatures of `digest` under: `sha256-<hex>.sig`. */
export const sigTag = (digest: string) => `${digest.replace(':', '-')}.sig`;
