// GitHub's OIDC token endpoint as ACTIONS_ID_TOKEN_REQUEST_URL serves it: bearer request token in, signed JWT out.
import { randomBytes, randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, type JSONWebKeySet, type JWK, SignJWT } from 'jose';
import type { Counters } from './counters.ts';
import type { Faults, ServiceFaultStyle } from './faults.ts';
import { type Listener, listenHttps, sendJson } from './https-server.ts';
import type { WorldTls } from './tls.ts';

export const GITHUB_OIDC_ISSUER = 'https://token.actions.githubusercontent.com';

export interface OidcOptions {
  /** `owner/name`; default maestra-io/sample-service. */
  repository?: string;
  /** Default refs/tags/1.2.3. */
  ref?: string;
  /** Commit of the run; default 40 hex of a fixed value. */
  sha?: string;
  /** Default `<repository>/.github/workflows/release.yml@<ref>`. */
  jobWorkflowRef?: string;
  /** The tokens' `iss`; GitHub Enterprise Server's is `https://<host>/_services/token`. Default GitHub's. */
  issuer?: string;
}

export interface OidcServer {
  readonly issuer: string;
  /** What the runner puts in ACTIONS_ID_TOKEN_REQUEST_URL (already has `?api-version=2.0`). */
  readonly requestUrl: string;
  readonly requestToken: string;
  /** Public keys, also written to `jwksFile` for child processes. */
  readonly jwks: JSONWebKeySet;
  readonly jwksFile: string;
  /** Claims every token carries (besides iss/aud/iat/nbf/exp/jti). */
  claims(): Record<string, unknown>;
  /** Changes claims of tokens issued from now on (e.g. another job_workflow_ref). */
  setClaims(patch: Record<string, unknown>): void;
  /** Mints a token directly (for tests); `exp` offset in seconds from now, default 300. */
  mint(audience: string, extra?: Record<string, unknown>, expiresInSeconds?: number): Promise<string>;
  /** Tokens issued so far (secrets). */
  readonly issued: readonly string[];
  readonly listener: Listener;
}

const style: ServiceFaultStyle = {
  write: (res, e) => sendJson(res, e.status, { message: e.message }),
  serverCode: 'InternalServerError',
  throttle: { status: 429, code: 'TooManyRequests', message: 'Too many requests' },
  statusFor: () => 500,
};

type KeyPair = Awaited<ReturnType<typeof generateKeyPair>>;
let signingKey: Promise<KeyPair> | undefined;
/** RSA key generation takes ~0.4 s, so one key serves every world of this process; call early to overlap it. */
export function oidcSigningKey(): Promise<KeyPair> {
  signingKey ??= generateKeyPair('RS256', { extractable: true });
  return signingKey;
}

export async function startOidc(
  dir: string,
  tls: WorldTls,
  counters: Counters,
  faults: Faults,
  options: OidcOptions = {},
): Promise<OidcServer> {
  const repository = options.repository ?? 'maestra-io/sample-service';
  const ref = options.ref ?? 'refs/tags/1.2.3';
  const owner = repository.split('/')[0] ?? 'maestra-io';
  const sha = options.sha ?? 'f00dfeedf00dfeedf00dfeedf00dfeedf00dfeed';
  const issuer = options.issuer ?? GITHUB_OIDC_ISSUER;
  const workflowRef = `${repository}/.github/workflows/release.yml@${ref}`;
  let claims: Record<string, unknown> = {
    sub: `repo:${repository}:ref:${ref}`,
    ref,
    sha,
    repository,
    repository_id: '700000001',
    repository_owner: owner,
    repository_owner_id: '90000001',
    repository_visibility: 'private',
    run_id: '12345678901',
    run_number: '42',
    run_attempt: '1',
    actor: 'release-bot',
    actor_id: '80000001',
    workflow: 'release',
    workflow_ref: workflowRef,
    workflow_sha: sha,
    job_workflow_ref: options.jobWorkflowRef ?? workflowRef,
    job_workflow_sha: sha,
    event_name: 'push',
    ref_type: ref.startsWith('refs/tags/') ? 'tag' : 'branch',
    ref_protected: 'false',
    head_ref: '',
    base_ref: '',
    runner_environment: 'github-hosted',
  };
  const { privateKey, publicKey } = await oidcSigningKey();
  const kid = randomBytes(8).toString('hex');
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' };
  const jwks: JSONWebKeySet = { keys: [jwk] };
  const jwksFile = join(dir, 'oidc-jwks.json');
  await writeFile(jwksFile, JSON.stringify(jwks, null, 2));
  const requestToken = randomBytes(24).toString('base64url');
  const issued: string[] = [];
  const tokenPath = `/${randomUUID()}/_apis/distributedtask/hubs/Actions/plans/${randomUUID()}/jobs/${randomUUID()}/idtoken`;

  const mint = async (
    audience: string,
    extra: Record<string, unknown> = {},
    expiresIn = 300,
  ): Promise<string> => {
    const now = Math.floor(Date.now() / 1000);
    const token = await new SignJWT({ ...claims, ...extra, jti: randomUUID() })
      .setProtectedHeader({ alg: 'RS256', kid, typ: 'JWT', x5t: kid })
      .setIssuer(issuer)
      .setAudience(audience)
      .setIssuedAt(now)
      .setNotBefore(now - 5)
      .setExpirationTime(now + expiresIn)
      .sign(privateKey);
    issued.push(token);
    return token;
  };

  const listener = await listenHttps(tls, 'oidc', async (req, res) => {
    const url = new URL(req.url ?? '/', 'https://localhost');
    const kind =
      url.pathname === tokenPath
        ? 'token'
        : url.pathname.endsWith('/jwks')
          ? 'jwks'
          : url.pathname.endsWith('/openid-configuration')
            ? 'discovery'
            : 'other';
    counters.inc('oidc', kind);
    if (await faults.apply('oidc', kind, req, res, style)) return;
    if (req.method !== 'GET') return sendJson(res, 405, { message: 'Method not allowed' });
    if (kind === 'jwks') return sendJson(res, 200, jwks);
    if (kind === 'discovery') {
      return sendJson(res, 200, {
        issuer,
        jwks_uri: `${listener.url}/.well-known/jwks`,
        subject_types_supported: ['public', 'pairwise'],
        response_types_supported: ['id_token'],
        claims_supported: [
          'sub',
          'aud',
          'exp',
          'iat',
          'iss',
          'jti',
          'nbf',
          'ref',
          'repository',
          'job_workflow_ref',
        ],
        id_token_signing_alg_values_supported: ['RS256'],
        scopes_supported: ['openid'],
      });
    }
    if (kind !== 'token') return sendJson(res, 404, { message: 'Not found' });
    if (req.headers.authorization !== `Bearer ${requestToken}`) {
      return sendJson(res, 401, { message: 'Bad credentials: the request token is missing or invalid' });
    }
    if (!url.searchParams.get('api-version'))
      return sendJson(res, 400, { message: 'api-version is required' });
    const audience = url.searchParams.get('audience') || `https://github.com/${owner}`;
    sendJson(res, 200, { count: 1, value: await mint(audience) });
  });

  return {
    issuer,
    requestUrl: `${listener.url}${tokenPath}?api-version=2.0`,
    requestToken,
    jwks,
    jwksFile,
    claims: () => ({ ...claims }),
    setClaims(patch) {
      claims = { ...claims, ...patch };
    },
    mint,
    issued,
    listener,
  };
}
