// OCI distribution client shared by the stand-ins, behaving like go-containerregistry's remote transport:
// ping + Basic/Bearer challenge, keychain credentials, retries with exponential backoff, redirects, Go error texts.
import { createHash } from 'node:crypto';
import { DeadlineError, type HttpResponse, header, NetError, request, statusText } from './http.ts';
import { type Credentials, resolveCredentials } from './keychain.ts';
import { sleep } from './runtime.ts';

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
export const DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
export const MANIFEST_ACCEPT = [OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST];

/** k8s wait.Backoff as go-containerregistry uses it. */
export interface Backoff {
  durationMs: number;
  factor: number;
  jitter: number;
  steps: number;
  capMs?: number;
}

/** go-containerregistry's default (cosign uses it). */
export const DEFAULT_BACKOFF: Backoff = { durationMs: 1000, factor: 3, jitter: 0.1, steps: 3 };

const RETRY_STATUS = new Set([408, 429, 500, 502, 503, 504, 499, 522]);
const TEMPORARY_CODES = new Set(['BLOB_UPLOAD_INVALID', 'TOOMANYREQUESTS', 'UNKNOWN', 'UNAVAILABLE']);

export interface Diagnostic {
  code: string;
  message?: string;
  detail?: unknown;
}

function goValue(v: unknown): string {
  if (v === null || v === undefined) return '<nil>';
  if (Array.isArray(v)) return `[${v.map(goValue).join(' ')}]`;
  if (typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>).sort(([a], [b]) =>
      a < b ? -1 : a > b ? 1 : 0,
    );
    return `map[${entries.map(([k, x]) => `${k}:${goValue(x)}`).join(' ')}]`;
  }
  return String(v);
}

/** go-containerregistry's transport.Error. */
export class RegistryError extends Error {
  readonly status: number;
  readonly errors: Diagnostic[];
  readonly temporary: boolean;
  constructor(method: string, url: string, res: HttpResponse) {
    let errors: Diagnostic[] = [];
    try {
      const parsed = JSON.parse(res.body.toString('utf8')) as { errors?: Diagnostic[] };
      if (Array.isArray(parsed.errors)) errors = parsed.errors;
    } catch {}
    const text = statusText(res.status) || res.statusText;
    const diag = (d: Diagnostic) =>
      `${d.code}: ${d.message ?? ''}${d.detail != null ? `; ${goValue(d.detail)}` : ''}`;
    let detail: string;
    if (errors.length === 1) detail = diag(errors[0]!);
    else if (errors.length > 1) detail = `multiple errors returned: ${errors.map(diag).join('; ')}`;
    else if (res.body.length > 0)
      detail = `unexpected status code ${res.status} ${text}: ${res.body.toString('utf8')}`;
    else if (method === 'HEAD') {
      detail = `unexpected status code ${res.status} ${text} (HEAD responses have no body, use GET for details)`;
    } else detail = `unexpected status code ${res.status} ${text}`;
    const u = new URL(url);
    super(`${method} ${u.origin}${u.pathname}: ${detail}`);
    this.status = res.status;
    this.errors = errors;
    this.temporary =
      errors.length === 0 ? RETRY_STATUS.has(res.status) : errors.every((d) => TEMPORARY_CODES.has(d.code));
  }
}

export function sha256Digest(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

export interface ClientOptions {
  /** Explicit credentials (flux --creds); otherwise the docker config keychain. */
  credentials?: Credentials;
  insecure?: boolean;
  deadline?: number;
  backoff?: Backoff;
  /** Scope actions for Bearer tokens. */
  push?: boolean;
  /** Where go-containerregistry's `logs.Warn` goes ("retrying ..."), e.g. flux --debug. */
  warn?: (message: string) => void;
}

interface Challenge {
  scheme: 'anonymous' | 'basic' | 'bearer';
  realm?: string;
  service?: string;
}

function parseChallenge(value: string | undefined): Challenge {
  if (!value) return { scheme: 'anonymous' };
  const [scheme, ...rest] = value.trim().split(/\s+/);
  const params: Record<string, string> = {};
  for (const m of rest.join(' ').matchAll(/(\w+)="([^"]*)"/g)) params[m[1]!.toLowerCase()] = m[2]!;
  const s = (scheme ?? '').toLowerCase();
  if (s === 'basic') return { scheme: 'basic' };
  if (s === 'bearer') {
    const c: Challenge = { scheme: 'bearer' };
    if (params['realm'] !== undefined) c.realm = params['realm'];
    if (params['service'] !== undefined) c.service = params['service'];
    return c;
  }
  return { scheme: 'anonymous' };
}

/** Go's name.Registry.Scheme: loopback, localhost, RFC1918 and --insecure may fall back to plain http. */
function httpAllowed(registry: string, insecure: boolean): boolean {
  if (insecure) return true;
  const host = registry.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
  return (
    host === 'localhost' ||
    host.endsWith('.local') ||
    /^127\.\d+\.\d+\.\d+$/.test(host) ||
    host === '::1' ||
    /^10\./.test(host) ||
    /^192\.168\./.test(host) ||
    /^172\.(1[6-9]|2\d|3[01])\./.test(host)
  );
}

export class RegistryClient {
  readonly registry: string;
  readonly repository: string;
  private readonly opts: ClientOptions;
  private base?: string;
  private challenge: Challenge = { scheme: 'anonymous' };
  private bearer: string | undefined;
  private creds?: Credentials | undefined;
  private credsResolved = false;

  constructor(registry: string, repository: string, opts: ClientOptions = {}) {
    this.registry = registry;
    this.repository = repository;
    this.opts = opts;
  }

  private credentials(): Credentials | undefined {
    if (!this.credsResolved) {
      this.creds = this.opts.credentials ?? resolveCredentials(this.registry);
      this.credsResolved = true;
    }
    return this.creds;
  }

  /** Runs one HTTP exchange under the retry policy (temporary network errors and retryable status codes). */
  private async withRetry(
    method: string,
    url: string,
    send: () => Promise<HttpResponse>,
    retryNetwork = true,
  ): Promise<HttpResponse> {
    const b = this.opts.backoff ?? DEFAULT_BACKOFF;
    let duration = b.durationMs;
    let steps = b.steps;
    for (;;) {
      let outcome: HttpResponse | Error;
      try {
        outcome = await send();
      } catch (error) {
        if (error instanceof DeadlineError || !(error instanceof NetError)) throw error;
        outcome = error;
      }
      const retryable =
        outcome instanceof NetError
          ? retryNetwork && outcome.temporary
          : !(outcome instanceof Error) && RETRY_STATUS.has(outcome.status);
      const give = () => {
        if (outcome instanceof Error) throw outcome;
        return outcome;
      };
      if (!retryable || steps <= 1) return give();
      const why =
        outcome instanceof Error
          ? outcome.message
          : `${method} ${url}: unexpected status code ${outcome.status} ${statusText(outcome.status)}`;
      this.opts.warn?.(`retrying ${why}`);
      // wait.Backoff.Step(): hand out the current duration, grow it, and stop for good once it passes the cap.
      steps--;
      const wait = duration * (1 + Math.random() * b.jitter);
      duration *= b.factor;
      if (b.capMs !== undefined && duration > b.capMs) {
        duration = b.capMs;
        steps = 0;
      }
      if (this.opts.deadline !== undefined && Date.now() + wait >= this.opts.deadline) {
        await sleep(Math.max(0, this.opts.deadline - Date.now()));
        throw new DeadlineError();
      }
      await sleep(wait);
      if (steps <= 0) return give();
    }
  }

  private async ping(): Promise<void> {
    if (this.base) return;
    const schemes = httpAllowed(this.registry, this.opts.insecure === true) ? ['https', 'http'] : ['https'];
    const errors: Error[] = [];
    for (const scheme of schemes) {
      const url = `${scheme}://${this.registry}/v2/`;
      try {
        // The ping is not retried on connection errors (an https-only server resets the http fallback).
        const res = await this.withRetry('GET', url, () => request('GET', url, this.reqOpts({})), false);
        if (res.status === 200) this.challenge = { scheme: 'anonymous' };
        else if (res.status === 401) this.challenge = parseChallenge(header(res, 'www-authenticate'));
        else throw new RegistryError('GET', url, res);
        this.base = `${scheme}://${this.registry}`;
        return;
      } catch (error) {
        if (error instanceof DeadlineError || error instanceof RegistryError) throw error;
        errors.push(error as Error);
      }
    }
    // go-containerregistry reports every scheme it tried.
    throw new Error(errors.map((e) => e.message).join('; '));
  }

  private reqOpts(extra: { headers?: Record<string, string>; body?: Buffer | string }) {
    const o: Parameters<typeof request>[2] = { ...extra };
    if (this.opts.deadline !== undefined) o.deadline = this.opts.deadline;
    if (this.opts.insecure) o.insecureSkipVerify = true;
    return o;
  }

  private async fetchBearer(): Promise<string> {
    const c = this.challenge;
    if (!c.realm) throw new Error('bearer challenge without realm');
    const scope = `repository:${this.repository}:${this.opts.push ? 'pull,push' : 'pull'}`;
    const u = new URL(c.realm);
    if (c.service) u.searchParams.set('service', c.service);
    u.searchParams.set('scope', scope);
    const creds = this.credentials();
    const headers: Record<string, string> = {};
    if (creds && (creds.username || creds.password)) {
      headers['Authorization'] =
        `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
    }
    const res = await this.withRetry('GET', u.toString(), () =>
      request('GET', u.toString(), this.reqOpts({ headers })),
    );
    if (res.status !== 200) throw new RegistryError('GET', u.toString(), res);
    const body = JSON.parse(res.body.toString('utf8')) as { token?: string; access_token?: string };
    const token = body.token ?? body.access_token;
    if (!token) throw new Error(`GET ${u.origin}${u.pathname}: no token in response`);
    return token;
  }

  private async authHeader(): Promise<Record<string, string>> {
    const token = this.credentials()?.registryToken;
    if (token && this.challenge.scheme !== 'anonymous') return { Authorization: `Bearer ${token}` };
    if (this.challenge.scheme === 'basic') {
      const creds = this.credentials();
      if (!creds) return {};
      return {
        Authorization: `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`,
      };
    }
    if (this.challenge.scheme === 'bearer') {
      this.bearer ??= await this.fetchBearer();
      return { Authorization: `Bearer ${this.bearer}` };
    }
    return {};
  }

  /** An authenticated request against `/v2/<repo>/...` (or an absolute upload URL) with retries. */
  async send(
    method: string,
    pathOrUrl: string,
    init: { headers?: Record<string, string>; body?: Buffer | string } = {},
  ): Promise<HttpResponse> {
    await this.ping();
    const url = /^https?:\/\//.test(pathOrUrl) ? pathOrUrl : `${this.base}${pathOrUrl}`;
    const attempt = async () =>
      request(
        method,
        url,
        this.reqOpts({ ...init, headers: { ...init.headers, ...(await this.authHeader()) } }),
      );
    let res = await this.withRetry(method, url, attempt);
    if (res.status === 401 && this.challenge.scheme === 'bearer') {
      // An expired token is refreshed once, as go-containerregistry's bearer transport does.
      this.bearer = undefined;
      res = await this.withRetry(method, url, attempt);
    }
    return res;
  }

  private repoPath(suffix: string): string {
    return `/v2/${this.repository}/${suffix}`;
  }

  async headManifest(
    reference: string,
  ): Promise<{ digest: string; mediaType: string; size: number } | undefined> {
    const path = this.repoPath(`manifests/${reference}`);
    const res = await this.send('HEAD', path, { headers: { Accept: MANIFEST_ACCEPT.join(',') } });
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw new RegistryError('HEAD', `${this.base}${path}`, res);
    return {
      digest: header(res, 'docker-content-digest') ?? '',
      mediaType: (header(res, 'content-type') ?? '').split(';')[0] ?? '',
      size: Number(header(res, 'content-length') ?? 0),
    };
  }

  /** GET a manifest; a 404 throws a RegistryError (status 404) unless `allowMissing`. */
  async getManifest(reference: string): Promise<{ body: Buffer; digest: string; mediaType: string }>;
  async getManifest(
    reference: string,
    allowMissing: true,
  ): Promise<{ body: Buffer; digest: string; mediaType: string } | undefined>;
  async getManifest(reference: string, allowMissing = false) {
    const path = this.repoPath(`manifests/${reference}`);
    const res = await this.send('GET', path, { headers: { Accept: MANIFEST_ACCEPT.join(',') } });
    if (res.status === 404 && allowMissing) return undefined;
    if (res.status !== 200) throw new RegistryError('GET', `${this.base}${path}`, res);
    const digest = sha256Digest(res.body);
    if (reference.startsWith('sha256:') && digest !== reference) {
      throw new Error(
        `manifest digest: "${digest}" does not match requested digest: "${reference}" for "${this.registry}/${this.repository}@${reference}"`,
      );
    }
    let mediaType = (header(res, 'content-type') ?? '').split(';')[0] ?? '';
    try {
      const parsed = JSON.parse(res.body.toString('utf8')) as { mediaType?: string };
      if (parsed.mediaType) mediaType = parsed.mediaType;
    } catch {}
    return { body: res.body, digest, mediaType };
  }

  async putManifest(reference: string, body: Buffer, mediaType: string): Promise<string> {
    const path = this.repoPath(`manifests/${reference}`);
    const res = await this.send('PUT', path, { headers: { 'Content-Type': mediaType }, body });
    if (res.status !== 200 && res.status !== 201 && res.status !== 202) {
      throw new RegistryError('PUT', `${this.base}${path}`, res);
    }
    return sha256Digest(body);
  }

  async blobExists(digest: string): Promise<boolean> {
    const path = this.repoPath(`blobs/${digest}`);
    const res = await this.send('HEAD', path);
    if (res.status === 200) return true;
    if (res.status === 404) return false;
    throw new RegistryError('HEAD', `${this.base}${path}`, res);
  }

  /** Monolithic-by-chunk upload as go-containerregistry does it: POST, PATCH the bytes, PUT ?digest=. */
  async uploadBlob(digest: string, data: Buffer): Promise<void> {
    if (await this.blobExists(digest)) return;
    const start = this.repoPath('blobs/uploads/');
    let res = await this.send('POST', start);
    if (res.status === 201) return;
    if (res.status !== 202) throw new RegistryError('POST', `${this.base}${start}`, res);
    let location = new URL(header(res, 'location') ?? '', `${this.base}${start}`).toString();
    res = await this.send('PATCH', location, {
      headers: { 'Content-Type': 'application/octet-stream' },
      body: data,
    });
    if (res.status !== 202 && res.status !== 204) throw new RegistryError('PATCH', location, res);
    location = new URL(header(res, 'location') ?? location, location).toString();
    const put = new URL(location);
    put.searchParams.set('digest', digest);
    res = await this.send('PUT', put.toString());
    if (res.status !== 201 && res.status !== 204) throw new RegistryError('PUT', put.toString(), res);
  }

  /** GET a blob, following redirects (credentials are not sent to another host) and checking its digest. */
  async getBlob(digest: string): Promise<Buffer> {
    const path = this.repoPath(`blobs/${digest}`);
    let res = await this.send('GET', path);
    let url = `${this.base}${path}`;
    for (let hops = 0; res.status >= 300 && res.status < 400 && hops < 10; hops++) {
      const next = new URL(header(res, 'location') ?? '', url);
      const sameHost = next.host === new URL(url).host;
      url = next.toString();
      res = sameHost
        ? await this.send('GET', url)
        : await this.withRetry('GET', url, () => request('GET', url, this.reqOpts({})));
    }
    if (res.status !== 200) throw new RegistryError('GET', url, res);
    const got = sha256Digest(res.body);
    if (got !== digest)
      throw new Error(
        `error verifying sha256 checksum after reading ${res.body.length} bytes; got "${got}", want "${digest}"`,
      );
    return res.body;
  }
}

// ---- Go encoding/json fidelity for what the stand-ins serialise ----

/** JSON as Go's json.Marshal writes it: HTML-safe escapes for <, >, & and U+2028/2029. */
export function goJson(value: unknown, indent?: number): string {
  return JSON.stringify(value, null, indent)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

/** A Go map marshals with its keys sorted. */
export function sortedMap(m: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of Object.keys(m).sort()) out[k] = m[k]!;
  return out;
}

export interface Descriptor {
  mediaType: string;
  size: number;
  digest: string;
  annotations?: Record<string, string>;
}

export interface ImageManifest {
  schemaVersion: 2;
  mediaType: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
}

function descriptor(d: Descriptor): Descriptor {
  const out: Descriptor = { mediaType: d.mediaType, size: d.size, digest: d.digest };
  if (d.annotations && Object.keys(d.annotations).length) out.annotations = sortedMap(d.annotations);
  return out;
}

/** Field order of go-containerregistry's v1.Manifest. */
export function manifestBytes(m: Omit<ImageManifest, 'schemaVersion'>): Buffer {
  const out: ImageManifest = {
    schemaVersion: 2,
    mediaType: m.mediaType,
    config: descriptor(m.config),
    layers: m.layers.map(descriptor),
  };
  if (m.annotations && Object.keys(m.annotations).length) out.annotations = sortedMap(m.annotations);
  return Buffer.from(goJson(out));
}
