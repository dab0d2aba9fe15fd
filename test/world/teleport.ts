// Teleport proxy: /webapi/find for version discovery, and a private join endpoint the stand-in tbot uses to get JWT SVIDs.
import { randomBytes, randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  createLocalJWKSet,
  exportJWK,
  generateKeyPair,
  type JSONWebKeySet,
  type JWK,
  errors as joseErrors,
  jwtVerify,
  SignJWT,
} from 'jose';
import type { Counters } from './counters.ts';
import type { Faults, ServiceFaultStyle } from './faults.ts';
import { type Listener, listenHttps, readBody, sendJson } from './https-server.ts';
import { lifetimeSeconds } from './lifetime.ts';
import { GITHUB_OIDC_ISSUER } from './oidc.ts';
import type { WorldTls } from './tls.ts';

export const TELEPORT_JOIN_AUDIENCE = 'teleport.cluster.local';

/** A join request the default cluster accepts for an STS SVID (tbot's, with `extra` on top), as sent to its join endpoint. */
export const sampleJoinBody = (idToken: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    token: 'image-push-github-actions-sample-service',
    id_token: idToken,
    workload_identity: 'image-push',
    audiences: ['sts.amazonaws.com'],
    ...extra,
  });

export interface TeleportVersions {
  serverVersion?: string;
  /** `auto_update.tools_version`; null leaves it out of /webapi/find (older clusters). */
  toolsVersion?: string | null;
}

export interface TeleportOptions extends TeleportVersions {
  clusterName?: string;
  /** Join tokens the cluster knows; default image-push-github-actions-sample-service. */
  allowedJoinTokens?: string[];
  /** Workload identity selector names; default image-push. */
  allowedWorkloadIdentities?: string[];
  /** Lifetime of the JWT SVIDs the join endpoint (tbot) gets; default 3600 s. */
  svidSeconds?: number;
  /** The issuer of the GitHub ID tokens bots join with (a GitHub Enterprise Server's); default GitHub's. */
  githubIssuer?: string;
}

/** One JWT SVID the proxy issued (the JWT itself is among the world's secrets). */
export interface IssuedSvid {
  readonly jti: string;
  readonly subject: string;
  readonly audiences: readonly string[];
  readonly issuedAt: Date;
  readonly expiresAt: Date;
  /** 'join': through the join endpoint, as tbot gets it; 'mint': a test's mintSvid(). */
  readonly via: 'join' | 'mint';
}

export interface TeleportServer {
  /** `127.0.0.1:<port>`: the `teleport-fqdn` input. */
  readonly fqdn: string;
  readonly url: string;
  /** Issuer of JWT SVIDs: `https://<fqdn>`. */
  readonly issuer: string;
  readonly clusterName: string;
  readonly jwks: JSONWebKeySet;
  readonly jwksFile: string;
  setVersions(versions: TeleportVersions): void;
  /** Lifetime of the SVIDs issued from now on (join and mintSvid's default); undefined restores 3600 s. */
  setSvidLifetime(seconds?: number): void;
  /** Mints a JWT SVID directly (tests); expiresInSeconds may be negative for an expired one. */
  mintSvid(audiences: string[], expiresInSeconds?: number, subject?: string): Promise<string>;
  /** SVIDs issued so far (secrets). */
  readonly issued: readonly string[];
  /** SVIDs issued so far, without the JWTs. */
  svids(): IssuedSvid[];
  readonly listener: Listener;
}

const style: ServiceFaultStyle = {
  write: (res, e) => sendJson(res, e.status, { error: { message: e.message } }),
  serverCode: 'internal',
  throttle: { status: 429, code: 'LimitExceeded', message: 'too many requests' },
  statusFor: () => 500,
};

interface JoinRequest {
  token?: unknown;
  id_token?: unknown;
  workload_identity?: unknown;
  audiences?: unknown;
  exp_offset_seconds?: unknown;
}

export async function startTeleport(
  dir: string,
  tls: WorldTls,
  counters: Counters,
  faults: Faults,
  githubJwks: JSONWebKeySet,
  defaults: { serverVersion: string; toolsVersion: string },
  options: TeleportOptions = {},
): Promise<TeleportServer> {
  let serverVersion = options.serverVersion ?? defaults.serverVersion;
  let toolsVersion = options.toolsVersion === undefined ? defaults.toolsVersion : options.toolsVersion;
  const clusterName = options.clusterName ?? 'teleport.maestra.io';
  const joinTokens = new Set(options.allowedJoinTokens ?? ['image-push-github-actions-sample-service']);
  const identities = new Set(options.allowedWorkloadIdentities ?? ['image-push']);
  const githubKeys = createLocalJWKSet(githubJwks);
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const kid = randomBytes(8).toString('hex');
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' };
  const jwks: JSONWebKeySet = { keys: [jwk] };
  const jwksFile = join(dir, 'teleport-jwks.json');
  await writeFile(jwksFile, JSON.stringify(jwks, null, 2));
  const issued: string[] = [];
  const svids: IssuedSvid[] = [];
  let issuer = '';
  const svidLifetime = (seconds?: number) => lifetimeSeconds('SVID lifetime', seconds) ?? 3600;
  let svidSeconds = svidLifetime(options.svidSeconds);

  const sign = async (audiences: string[], expiresIn: number, subject: string, via: IssuedSvid['via']) => {
    const now = Math.floor(Date.now() / 1000);
    const jti = randomUUID();
    const iat = Math.min(now, now + expiresIn - 1);
    const jwt = await new SignJWT({ jti })
      .setProtectedHeader({ alg: 'ES256', kid, typ: 'JWT' })
      .setIssuer(issuer)
      .setSubject(subject)
      .setAudience(audiences)
      .setIssuedAt(iat)
      .setExpirationTime(now + expiresIn)
      .sign(privateKey);
    issued.push(jwt);
    const [issuedAt, expiresAt] = [new Date(iat * 1000), new Date((now + expiresIn) * 1000)];
    svids.push({ jti, subject, audiences: [...audiences], issuedAt, expiresAt, via });
    return jwt;
  };
  const mintSvid = (audiences: string[], expiresIn = svidSeconds, subject?: string): Promise<string> =>
    sign(audiences, expiresIn, subject ?? `spiffe://${clusterName}/bot/image-push`, 'mint');

  const fail = (res: Parameters<typeof sendJson>[0], status: number, message: string) =>
    sendJson(res, status, { error: { message } });

  const join_ = async (body: JoinRequest, res: Parameters<typeof sendJson>[0]) => {
    const { token, id_token: idToken, workload_identity: identity, audiences } = body;
    if (typeof token !== 'string' || !token) return fail(res, 400, 'missing join token');
    if (typeof idToken !== 'string' || !idToken) return fail(res, 400, 'missing GitHub ID token');
    if (typeof identity !== 'string' || !identity)
      return fail(res, 400, 'missing workload identity selector');
    if (
      !Array.isArray(audiences) ||
      audiences.length === 0 ||
      !audiences.every((a) => typeof a === 'string' && a)
    ) {
      return fail(res, 400, 'at least one audience is required');
    }
    const offset = body.exp_offset_seconds;
    if (offset !== undefined && (typeof offset !== 'number' || !Number.isFinite(offset))) {
      return fail(res, 400, 'exp_offset_seconds must be a number');
    }
    if (!joinTokens.has(token)) return fail(res, 403, `token "${token}" expired or not found`);
    let github: Record<string, unknown>;
    try {
      ({ payload: github } = await jwtVerify(idToken, githubKeys, {
        issuer: options.githubIssuer ?? GITHUB_OIDC_ISSUER,
        audience: TELEPORT_JOIN_AUDIENCE,
        algorithms: ['RS256'],
      }));
    } catch (error) {
      const why =
        error instanceof joseErrors.JWTExpired
          ? 'token is expired'
          : error instanceof joseErrors.JWTClaimValidationFailed
            ? `claim "${error.claim}" is invalid: ${error.reason}`
            : 'signature is invalid';
      return fail(res, 403, `joining with token "${token}": GitHub ID token rejected: ${why}`);
    }
    if (!identities.has(identity)) {
      return fail(
        res,
        403,
        `access denied: workload identity "${identity}" not found or not allowed for this bot`,
      );
    }
    const repo = typeof github['repository'] === 'string' ? github['repository'] : 'unknown';
    const jwt = await sign(
      audiences as string[],
      (offset as number | undefined) ?? svidSeconds,
      `spiffe://${clusterName}/bot/${token}/github/${repo}`,
      'join',
    );
    sendJson(res, 200, { jwt });
  };

  const listener = await listenHttps(tls, 'teleport', async (req, res) => {
    const path = new URL(req.url ?? '/', 'https://localhost').pathname;
    const kind =
      path === '/webapi/find'
        ? 'find'
        : path === '/webapi/standin/join'
          ? 'join'
          : path.endsWith('jwks.json')
            ? 'jwks'
            : 'other';
    counters.inc('teleport', kind);
    if (await faults.apply('teleport', kind, req, res, style)) return;
    if (kind === 'find' && req.method === 'GET') {
      return sendJson(res, 200, {
        proxy: {
          kube: { enabled: true, listen_addr: listener.host },
          ssh: {
            listen_addr: listener.host,
            tunnel_listen_addr: listener.host,
            web_listen_addr: listener.host,
          },
          db: {},
          tls_routing_enabled: true,
        },
        server_version: serverVersion,
        min_client_version: '16.0.0-aa',
        cluster_name: clusterName,
        automatic_upgrades: false,
        auto_update: {
          ...(toolsVersion === null ? {} : { tools_version: toolsVersion }),
          tools_auto_update: toolsVersion !== null,
          agent_version: serverVersion,
          agent_auto_update: false,
          agent_update_jitter_seconds: 60,
        },
        edition: 'community',
        fips: false,
      });
    }
    if (kind === 'join' && req.method === 'POST') {
      let body: JoinRequest;
      try {
        body = JSON.parse((await readBody(req)).toString('utf8')) as JoinRequest;
        if (typeof body !== 'object' || body === null) throw new Error('not an object');
      } catch {
        return fail(res, 400, 'request body is not a JSON object');
      }
      return join_(body, res);
    }
    if (kind === 'jwks' && req.method === 'GET') return sendJson(res, 200, jwks);
    return fail(res, 404, `not found: ${req.method} ${path}`);
  });
  issuer = `https://${listener.host}`;

  return {
    fqdn: listener.host,
    url: listener.url,
    issuer,
    clusterName,
    jwks,
    jwksFile,
    setVersions(versions) {
      if (versions.serverVersion !== undefined) serverVersion = versions.serverVersion;
      if (versions.toolsVersion !== undefined) toolsVersion = versions.toolsVersion;
    },
    setSvidLifetime(seconds) {
      svidSeconds = svidLifetime(seconds);
    },
    mintSvid,
    issued,
    svids: () => [...svids],
    listener,
  };
}
