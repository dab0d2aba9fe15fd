// ECR's registry endpoint in front of one (account, region) docker-registry: Basic auth, NAME_UNKNOWN, tag immutability, S3 redirects.
import { randomBytes } from 'node:crypto';
import {
  Agent,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  request,
  type ServerResponse,
} from 'node:http';
import type { Counters } from './counters.ts';
import { type EcrRecorder, type RegistryCall, recordTo } from './ecr/recorder.ts';
import { DEFAULT_ACCOUNT, type RegistryState, tagIsImmutable } from './ecr/state.ts';
import type { ErrorShape, Faults, ServiceFaultStyle } from './faults.ts';
import { type Listener, listenHttps, readBody } from './https-server.ts';
import { isDigest, MANIFEST_ACCEPT } from './oci.ts';
import type { WorldTls } from './tls.ts';

/** Counter/fault target of a registry front (and its S3 blob downloads): `registry:<region>`, `registry:<region>:<account>` for other accounts. */
export const registryTarget = (region: string, account: string = DEFAULT_ACCOUNT) =>
  account === DEFAULT_ACCOUNT ? `registry:${region}` : `registry:${region}:${account}`;

/** Counts manifest requests by digest per spelling: kind `colon` (what real clients send) or `%3A` (also served). */
export const digestRefTarget = (region: string) => `registry-digest-ref:${region}`;

/** A manifest reference that is a digest with its colon percent-encoded, e.g. `sha256%3A<hex>`. */
function decodedDigest(ref: string): string | undefined {
  const m = /^([a-z0-9]+(?:[.+_-][a-z0-9]+)*)%3a(.+)$/i.exec(ref);
  const decoded = m ? `${m[1]}:${m[2]}` : undefined;
  return decoded && isDigest(decoded) ? decoded : undefined;
}

const MANIFEST_LIMIT = 4 << 20;
const PRESIGN_TTL_MS = 20 * 60 * 1000;
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'expect',
  'host',
  'authorization',
]);

const agent = new Agent({ keepAlive: true, maxSockets: 64 });

function registryError(res: ServerResponse, e: ErrorShape, headers: OutgoingHttpHeaders = {}): void {
  const body = Buffer.from(JSON.stringify({ errors: [{ code: e.code, message: e.message }] }));
  res.writeHead(e.status, {
    'content-type': 'application/json; charset=utf-8',
    'docker-distribution-api-version': 'registry/2.0',
    'content-length': String(body.length),
    ...headers,
  });
  res.end(res.req?.method === 'HEAD' ? undefined : body);
}

const REGISTRY_STATUS: Record<string, number> = {
  NAME_UNKNOWN: 404,
  MANIFEST_UNKNOWN: 404,
  BLOB_UNKNOWN: 404,
  DENIED: 403,
  UNAUTHORIZED: 401,
  TOOMANYREQUESTS: 429,
  UNAVAILABLE: 503,
};

const registryStyle: ServiceFaultStyle = {
  write: registryError,
  serverCode: 'UNAVAILABLE',
  throttle: { status: 429, code: 'TOOMANYREQUESTS', message: 'Rate exceeded' },
  statusFor: (code) => REGISTRY_STATUS[code] ?? 400,
};

function forwardHeaders(headers: IncomingHttpHeaders, frontHost: string): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (!HOP_BY_HOP.has(name) && value !== undefined) out[name] = value;
  }
  // The registry builds Location URLs from these, so uploads continue through the front.
  out['x-forwarded-host'] = frontHost;
  out['x-forwarded-proto'] = 'https';
  return out;
}

/** One request to a raw registry; the caller relays or consumes the response. */
function upstream(
  base: string,
  method: string,
  path: string,
  headers: OutgoingHttpHeaders,
  body?: Buffer | IncomingMessage,
): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const url = new URL(path, base);
    const out = request(url, { method, headers, agent }, resolve);
    out.on('error', reject);
    if (body === undefined) out.end();
    else if (Buffer.isBuffer(body)) out.end(body);
    else {
      body.pipe(out);
      body.on('error', (error) => out.destroy(error));
    }
  });
}

function relay(res: ServerResponse, up: IncomingMessage, rewrite?: { from: string; to: string }): void {
  const headers: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(up.headers)) {
    if (HOP_BY_HOP.has(name) || value === undefined) continue;
    headers[name] =
      name === 'location' && rewrite && typeof value === 'string' && value.startsWith(rewrite.from)
        ? rewrite.to + value.slice(rewrite.from.length)
        : value;
  }
  res.writeHead(up.statusCode ?? 502, headers);
  up.pipe(res);
  res.on('close', () => up.destroy());
}

async function drain(up: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of up) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

interface Presigned {
  target: string;
  registryUrl: string;
  repo: string;
  digest: string;
  expires: number;
}

export interface BlobHost {
  readonly url: string;
  readonly listener: Listener;
  /** A pre-signed-looking URL that serves the blob without registry credentials, like ECR's S3 layer bucket. */
  presign(
    front: Pick<RegistryState, 'target' | 'region'>,
    registryUrl: string,
    repo: string,
    digest: string,
  ): string;
}

function s3Error(res: ServerResponse, e: ErrorShape): void {
  const body = Buffer.from(
    `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${e.code}</Code><Message>${e.message}</Message>` +
      `<RequestId>${randomBytes(8).toString('hex').toUpperCase()}</RequestId><HostId>${randomBytes(24).toString('base64')}</HostId></Error>`,
  );
  res.writeHead(e.status, { 'content-type': 'application/xml', 'content-length': String(body.length) });
  res.end(res.req?.method === 'HEAD' ? undefined : body);
}

const s3Style: ServiceFaultStyle = {
  write: s3Error,
  serverCode: 'ServiceUnavailable',
  throttle: { status: 503, code: 'SlowDown', message: 'Please reduce your request rate.' },
  statusFor: (code) => (code === 'InternalError' ? 500 : code === 'AccessDenied' ? 403 : 400),
};

/** The "S3 layer bucket" all fronts redirect blob downloads to, reached as localhost:<its own port>. */
export async function startBlobHost(tls: WorldTls, counters: Counters, faults: Faults): Promise<BlobHost> {
  const presigned = new Map<string, Presigned>();
  const listener = await listenHttps(tls, 's3', async (req, res) => {
    const url = new URL(req.url ?? '/', 'https://localhost');
    const token = url.pathname.split('/')[2] ?? '';
    const entry = presigned.get(token);
    const target = entry?.target ?? 's3';
    counters.inc(target, 's3-blob');
    if (await faults.apply(target, 's3-blob', req, res, s3Style)) return;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return s3Error(res, {
        status: 405,
        code: 'MethodNotAllowed',
        message: 'The specified method is not allowed against this resource.',
      });
    }
    if (req.headers.authorization) {
      return s3Error(res, {
        status: 400,
        code: 'InvalidArgument',
        message:
          'Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified',
      });
    }
    if (!entry || url.searchParams.get('X-Amz-Signature') === null) {
      return s3Error(res, {
        status: 403,
        code: 'SignatureDoesNotMatch',
        message: 'The request signature we calculated does not match the signature you provided.',
      });
    }
    if (entry.expires < Date.now())
      return s3Error(res, { status: 403, code: 'AccessDenied', message: 'Request has expired' });
    const headers: OutgoingHttpHeaders = {};
    if (req.headers.range) headers['range'] = req.headers.range;
    const up = await upstream(
      entry.registryUrl,
      req.method,
      `/v2/${entry.repo}/blobs/${entry.digest}`,
      headers,
    );
    if (up.statusCode !== 200 && up.statusCode !== 206) {
      await drain(up);
      return s3Error(res, { status: 404, code: 'NoSuchKey', message: 'The specified key does not exist.' });
    }
    const out: OutgoingHttpHeaders = {
      'content-type': 'application/octet-stream',
      etag: `"${entry.digest.slice(7, 39)}"`,
      'accept-ranges': 'bytes',
      'last-modified': new Date().toUTCString(),
      'x-amz-request-id': randomBytes(8).toString('hex').toUpperCase(),
    };
    for (const name of ['content-length', 'content-range']) {
      const value = up.headers[name];
      if (value !== undefined) out[name] = value;
    }
    res.writeHead(up.statusCode, out);
    up.pipe(res);
    res.on('close', () => up.destroy());
  });
  return {
    url: listener.url,
    listener,
    presign({ target, region }, registryUrl, repo, digest) {
      const token = randomBytes(18).toString('base64url');
      const expires = Date.now() + PRESIGN_TTL_MS;
      presigned.set(token, { target, registryUrl, repo, digest, expires });
      const now = new Date()
        .toISOString()
        .replace(/[-:]/g, '')
        .replace(/\.\d{3}/, '');
      const query = new URLSearchParams({
        'X-Amz-Security-Token': randomBytes(32).toString('base64'),
        'X-Amz-Algorithm': 'AWS4-HMAC-SHA256',
        'X-Amz-Date': now,
        'X-Amz-SignedHeaders': 'host',
        'X-Amz-Expires': String(PRESIGN_TTL_MS / 1000),
        'X-Amz-Credential': `ASIA${randomBytes(8).toString('hex').toUpperCase()}/${now.slice(0, 8)}/${region}/s3/aws4_request`,
        'X-Amz-Signature': randomBytes(32).toString('hex'),
      });
      // Another host name (as S3 is for ECR), so every HTTP client drops the registry's Authorization on the redirect.
      return `https://localhost:${listener.port}/prod-${region}-starport-layer-bucket/${token}?${query}`;
    },
  };
}

type Route =
  | { kind: 'ping' }
  | { kind: 'catalog' }
  | { kind: 'manifest'; repo: string; ref: string }
  | { kind: 'blob'; repo: string; digest: string }
  | { kind: 'upload'; repo: string }
  | { kind: 'tags'; repo: string }
  | { kind: 'referrers'; repo: string }
  | { kind: 'other' };

function route(pathname: string): Route {
  if (pathname === '/v2/' || pathname === '/v2') return { kind: 'ping' };
  if (pathname === '/v2/_catalog') return { kind: 'catalog' };
  let m = /^\/v2\/(.+)\/blobs\/uploads(?:\/.*)?$/.exec(pathname);
  if (m?.[1]) return { kind: 'upload', repo: m[1] };
  m = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(pathname);
  if (m?.[1] && m[2]) return { kind: 'manifest', repo: m[1], ref: m[2] };
  m = /^\/v2\/(.+)\/blobs\/([^/]+)$/.exec(pathname);
  if (m?.[1] && m[2]) return { kind: 'blob', repo: m[1], digest: m[2] };
  m = /^\/v2\/(.+)\/tags\/list$/.exec(pathname);
  if (m?.[1]) return { kind: 'tags', repo: m[1] };
  m = /^\/v2\/(.+)\/referrers\/[^/]+$/.exec(pathname);
  if (m?.[1]) return { kind: 'referrers', repo: m[1] };
  return { kind: 'other' };
}

function kindOf(r: Route, method: string): string {
  const verb =
    method === 'HEAD' ? 'head' : method === 'GET' ? 'get' : method === 'PUT' ? 'put' : method.toLowerCase();
  switch (r.kind) {
    case 'manifest':
      return `manifest-${verb}`;
    case 'blob':
      return `blob-${verb}`;
    case 'upload':
      return 'blob-upload';
    case 'tags':
      return 'tags-list';
    default:
      return r.kind;
  }
}

export interface FrontOptions {
  /** Where the front records each request (auth outcome, token's access key, status). */
  recorder?: EcrRecorder;
  /** Answer manifest/blob reads this registry does not hold from these registries (a lying pull-through). */
  pullThroughFrom?: readonly RegistryState[];
}

export async function startRegistryFront(
  tls: WorldTls,
  counters: Counters,
  faults: Faults,
  region: RegistryState,
  blobs: BlobHost,
  options: FrontOptions = {},
): Promise<Listener> {
  const target = region.target;
  const registryUrl = region.registry.url;
  const locks = new Map<string, Promise<void>>();
  const sources = options.pullThroughFrom ?? [];

  // Check-then-put on a tag must be atomic, as it is in ECR, or two racing pushes could both "create" the tag.
  const withLock = async <T>(key: string, fn: () => Promise<T>): Promise<T> => {
    const previous = locks.get(key) ?? Promise.resolve();
    let release = () => {};
    const mine = new Promise<void>((resolve) => {
      release = resolve;
    });
    const chained = previous.then(() => mine);
    locks.set(key, chained);
    await previous;
    try {
      return await fn();
    } finally {
      release();
      if (locks.get(key) === chained) locks.delete(key);
    }
  };

  const listener = await listenHttps(tls, `registry ${region.account} ${region.region}`, async (req, res) => {
    const method = req.method ?? 'GET';
    const url = new URL(req.url ?? '/', 'https://localhost');
    const r = route(url.pathname);
    if (r.kind === 'manifest') {
      const decoded = decodedDigest(r.ref);
      if (isDigest(r.ref)) counters.inc(digestRefTarget(region.region), 'colon');
      else if (decoded) {
        counters.inc(digestRefTarget(region.region), '%3A');
        // Served as the literal form, so the registry and the tag rules below see a digest.
        url.pathname = url.pathname.slice(0, -r.ref.length) + decoded;
        r.ref = decoded;
      }
    }
    const kind = kindOf(r, method);
    const { auth, token } = region.tokens.check(req.headers.authorization);
    const authorized = auth === 'ok';
    counters.inc(target, authorized ? kind : auth === 'expired' ? 'auth-expired' : 'auth-fail');
    if (options.recorder) {
      const call: RegistryCall = {
        time: new Date(),
        account: region.account,
        region: region.region,
        kind,
        method,
        path: url.pathname,
        auth,
        ...(token ? { accessKeyId: token.accessKeyId } : {}),
      };
      recordTo(options.recorder.registryCalls, call, res);
    }
    if (await faults.apply(target, kind, req, res, registryStyle)) return;
    // The host the client asked for (the ECR name behind the proxy), so uploads and realms stay on it as on ECR.
    const frontHost = req.headers.host ?? listener.host;
    const rewrite = { from: registryUrl, to: `https://${frontHost}` };
    const headers = forwardHeaders(req.headers, frontHost);
    if (auth === 'expired') {
      req.resume();
      // ECR answers an expired token 403 DENIED, not 401: a fresh GetAuthorizationToken is the only way on.
      return registryError(res, {
        status: 403,
        code: 'DENIED',
        message: 'Your authorization token has expired. Reauthenticate and try again.',
      });
    }
    if (!authorized) {
      req.resume();
      return registryError(
        res,
        {
          status: 401,
          code: 'DENIED',
          message: req.headers.authorization ? 'Your authorization token is invalid.' : 'Not Authorized',
        },
        { 'www-authenticate': `Basic realm="https://${frontHost}/",service="ecr.amazonaws.com"` },
      );
    }
    if (r.kind === 'ping') return relay(res, await upstream(registryUrl, method, '/v2/', headers));
    if (r.kind === 'catalog' || r.kind === 'other') {
      req.resume();
      return registryError(res, {
        status: 404,
        code: 'UNSUPPORTED',
        message: 'The operation is unsupported.',
      });
    }
    if (!region.repos.has(r.repo)) {
      req.resume();
      return registryError(res, {
        status: 404,
        code: 'NAME_UNKNOWN',
        message: `The repository with name '${r.repo}' does not exist in the registry with id '${region.account}'`,
      });
    }
    const path = url.pathname + url.search;

    if (r.kind === 'manifest' && method === 'PUT') {
      const body = await readBody(req, MANIFEST_LIMIT).catch(() => undefined);
      if (!body)
        return registryError(res, { status: 400, code: 'MANIFEST_INVALID', message: 'manifest too large' });
      const meta = region.repos.get(r.repo);
      if (isDigest(r.ref) || !meta)
        return relay(res, await upstream(registryUrl, method, path, headers, body), rewrite);
      const { status, upHeaders, upBody } = await withLock(`${r.repo}:${r.ref}`, async () => {
        if (tagIsImmutable(meta, r.ref)) {
          const existing = await upstream(registryUrl, 'HEAD', `/v2/${r.repo}/manifests/${r.ref}`, {
            accept: MANIFEST_ACCEPT,
          });
          await drain(existing);
          if (existing.statusCode === 200) return { status: 0, upHeaders: {}, upBody: Buffer.alloc(0) };
        }
        const up = await upstream(registryUrl, method, path, headers, body);
        return { status: up.statusCode ?? 502, upHeaders: up.headers, upBody: await drain(up) };
      });
      if (status === 0) {
        return registryError(res, {
          status: 400,
          code: 'TAG_INVALID',
          message: `The image tag '${r.ref}' already exists in the '${r.repo}' repository and cannot be overwritten because the repository is immutable.`,
        });
      }
      const out: OutgoingHttpHeaders = {};
      for (const [name, value] of Object.entries(upHeaders)) {
        if (HOP_BY_HOP.has(name) || value === undefined) continue;
        out[name] =
          name === 'location' && typeof value === 'string' ? value.replace(rewrite.from, rewrite.to) : value;
      }
      res.writeHead(status, out);
      return void res.end(upBody);
    }

    if (r.kind === 'manifest' && (method === 'GET' || method === 'HEAD')) {
      const up = await upstream(registryUrl, method, path, headers);
      if (up.statusCode === 404 && sources.length > 0) {
        for (const source of sources) {
          const other = await upstream(source.registry.url, method, path, headers);
          if (other.statusCode === 200) {
            await drain(up);
            return relay(res, other);
          }
          await drain(other);
        }
      }
      return relay(res, up, rewrite);
    }

    if (r.kind === 'blob' && method === 'GET') {
      const head = await upstream(registryUrl, 'HEAD', `/v2/${r.repo}/blobs/${r.digest}`, {});
      await drain(head);
      let from = head.statusCode === 200 ? registryUrl : undefined;
      for (const source of from ? [] : sources) {
        const other = await upstream(source.registry.url, 'HEAD', `/v2/${r.repo}/blobs/${r.digest}`, {});
        await drain(other);
        if (other.statusCode === 200) {
          from = source.registry.url;
          break;
        }
      }
      if (from) {
        const location = blobs.presign(region, from, r.repo, r.digest);
        res.writeHead(307, {
          location,
          'content-length': '0',
          'docker-distribution-api-version': 'registry/2.0',
        });
        return void res.end();
      }
      return relay(res, await upstream(registryUrl, method, path, headers), rewrite);
    }

    if (r.kind === 'blob' && method === 'HEAD' && sources.length > 0) {
      const up = await upstream(registryUrl, method, path, headers);
      if (up.statusCode === 404) {
        for (const source of sources) {
          const other = await upstream(source.registry.url, method, path, headers);
          if (other.statusCode === 200) {
            await drain(up);
            return relay(res, other);
          }
          await drain(other);
        }
      }
      return relay(res, up, rewrite);
    }

    // Uploads, blob HEAD, tags/list, referrers, deletes: streamed through as they are.
    const hasBody = method !== 'GET' && method !== 'HEAD';
    return relay(res, await upstream(registryUrl, method, path, headers, hasBody ? req : undefined), rewrite);
  });
  region.frontHost = listener.host;
  return listener;
}
