import { createHash } from 'node:crypto';
import { ActionError } from './errors.ts';
import {
  classifyHttp,
  HttpStatusError,
  type Method,
  parseJson,
  readLimited,
  retryableStatus,
  send,
  shown,
} from './http.ts';
import { type RetryOptions, retry } from './retry.ts';

/** Manifest media types the action reads; asking for all of them keeps a registry from answering 404/406. */
export const MEDIA_TYPES = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
} as const;

const MANIFEST_ACCEPT = Object.values(MEDIA_TYPES).join(', ');
const DIGEST = /^sha256:[a-f0-9]{64}$/;
// The distribution spec's tag grammar.
const TAG = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
const MAX_REDIRECTS = 5;
const MANIFEST_LIMIT = 4 << 20;
/** What a write's answer may carry: a status, headers and at most an error document. */
const ANSWER_LIMIT = 64 << 10;
/** A baked kustomization is kilobytes; anything near this is not ours. */
const BLOB_LIMIT = 256 << 20;
/** How long a registry may stay silent within one request. */
const REQUEST_TIMEOUT_MS = 30_000;
/** Registry error codes that mean "not there" rather than "something is wrong". */
const ABSENT = new Set(['MANIFEST_UNKNOWN', 'NAME_UNKNOWN']);

export const isDigest = (value: string): boolean => DIGEST.test(value);

export const sha256 = (data: Uint8Array): string =>
  `sha256:${createHash('sha256').update(data).digest('hex')}`;

/** A registry answer the action cannot use: digests that disagree, a missing header, an upload sent elsewhere. */
export class RegistryError extends ActionError {
  constructor(message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(message, options);
    this.name = 'RegistryError';
  }
}

export interface ManifestHead {
  digest: string;
  mediaType: string;
  size: number;
}

export interface Manifest extends ManifestHead {
  body: Buffer;
}

export interface OciClientOptions {
  /** Registry `host[:port]`; always reached over HTTPS. */
  registry: string;
  /** base64 `user:password` for Basic auth (ECR's authorization token is exactly that). */
  authorization?: string | undefined;
  signal?: AbortSignal | undefined;
  /** How long the registry may stay silent within a request (the transport's timeout). */
  timeoutMs?: number;
  retry?: Partial<Omit<RetryOptions, 'classify' | 'signal'>>;
  /** Told before each retry, e.g. to log it. */
  onRetry?: (message: string) => void;
}

interface Answer {
  status: number;
  headers: Headers;
  body: Buffer;
}

/** The registry's `{"errors":[{code,message}]}`, when the body is one. */
function registryErrors(body: Buffer): { code: string | undefined; message: string | undefined } {
  const parsed = parseJson(body.toString('utf8')) as
    | { errors?: { code?: unknown; message?: unknown }[] }
    | undefined;
  const first = parsed?.errors?.[0];
  return {
    code: typeof first?.code === 'string' ? first.code : undefined,
    message: typeof first?.message === 'string' ? first.message : undefined,
  };
}

/** An answer with an unwanted status, carrying the registry's error code and message. */
function statusError(method: Method, url: URL, answer: Answer, hint?: string): HttpStatusError {
  const { code, message } = registryErrors(answer.body);
  const detail = code ? `${code}${message ? `: ${message}` : ''}` : '';
  return new HttpStatusError(method, shown(url), answer.status, detail, { code, ...(hint ? { hint } : {}) });
}

/**
 * Reads manifests and blobs from one registry over HTTPS: Basic auth to the registry's own origin only,
 * redirects followed by hand (so credentials never reach S3), digests verified, transient failures retried.
 */
export class OciClient {
  readonly registry: string;
  private readonly origin: string;
  private readonly options: OciClientOptions;

  constructor(options: OciClientOptions) {
    this.options = options;
    this.registry = options.registry;
    this.origin = new URL(`https://${options.registry}`).origin;
  }

  /** The manifest's digest and type without its body; undefined when the tag or repository is absent. */
  async headManifest(repository: string, reference: string): Promise<ManifestHead | undefined> {
    const url = this.url(repository, 'manifests', reference);
    const answer = await this.send('HEAD', url, { accept: MANIFEST_ACCEPT }, 0);
    if (answer.status === 404) return undefined;
    this.expectOk(answer, 'HEAD', url);
    const digest = answer.headers.get('docker-content-digest') ?? '';
    if (!isDigest(digest)) {
      throw new RegistryError(`HEAD ${shown(url)} answered without a sha256 Docker-Content-Digest`);
    }
    if (isDigest(reference) && digest !== reference) {
      throw new RegistryError(`HEAD ${shown(url)} answered digest ${digest}`);
    }
    return {
      digest,
      mediaType: mediaTypeOf(answer.headers),
      size: Number(answer.headers.get('content-length') ?? 0),
    };
  }

  /** The manifest by tag or digest, its digest computed from the bytes; undefined when absent. */
  async getManifest(repository: string, reference: string): Promise<Manifest | undefined> {
    const url = this.url(repository, 'manifests', reference);
    const answer = await this.send('GET', url, { accept: MANIFEST_ACCEPT }, MANIFEST_LIMIT);
    if (answer.status === 404 && ABSENT.has(registryErrors(answer.body).code ?? '')) return undefined;
    this.expectOk(answer, 'GET', url);
    const digest = sha256(answer.body);
    const claimed = answer.headers.get('docker-content-digest');
    if ((isDigest(reference) && digest !== reference) || (claimed && claimed !== digest)) {
      throw new RegistryError(
        `GET ${shown(url)} sent a manifest whose sha256 is ${digest}, not ${isDigest(reference) ? reference : claimed}`,
        { hint: 'the registry or something between it and the runner altered the manifest' },
      );
    }
    return { digest, mediaType: mediaTypeOf(answer.headers), size: answer.body.length, body: answer.body };
  }

  /** A blob's bytes, checked against its sha256 digest. */
  async getBlob(repository: string, digest: string, limit = BLOB_LIMIT): Promise<Buffer> {
    if (!isDigest(digest)) throw new RegistryError(`blob digest ${digest} is not sha256:<64 hex>`);
    const url = this.url(repository, 'blobs', digest);
    const answer = await this.send('GET', url, {}, limit);
    this.expectOk(answer, 'GET', url);
    const actual = sha256(answer.body);
    if (actual !== digest) {
      throw new RegistryError(`blob ${digest} of ${repository} arrived with sha256 ${actual}`, {
        hint: 'the blob is corrupt in the registry or was altered on the way',
      });
    }
    return answer.body;
  }

  /**
   * Uploads a blob monolithically (POST, then PUT of the bytes with `?digest=`), the upload every registry
   * supports; never skipped on a HEAD saying it exists, since a pull-through cache answers for what it lacks.
   * The pair is retried as a whole: an upload session may not survive the failure.
   */
  async uploadBlob(repository: string, digest: string, bytes: Buffer): Promise<void> {
    const actual = sha256(bytes);
    if (actual !== digest) throw new RegistryError(`blob ${digest} to upload hashes to ${actual}`);
    const start = new URL(`${this.origin}/v2/${repository}/blobs/uploads/`);
    await this.retrying(`upload of ${digest} to ${shown(start)}`, async () => {
      const opened = await this.once('POST', start, {}, ANSWER_LIMIT, Buffer.alloc(0));
      this.expectOk(opened, 'POST', start, 202);
      const location = opened.headers.get('location');
      if (!location) throw new RegistryError(`POST ${shown(start)} answered without a Location`);
      const session = new URL(location, start);
      if (session.protocol !== 'https:') {
        throw new RegistryError(`POST ${shown(start)} sent the upload to ${session.protocol}`, {
          hint: 'registries are reached over HTTPS only',
        });
      }
      session.searchParams.set('digest', digest);
      const headers = { 'content-type': 'application/octet-stream' };
      const done = await this.once('PUT', session, headers, ANSWER_LIMIT, bytes);
      this.expectOk(done, 'PUT', session, 201);
      this.expectDigest(done, 'PUT', session, digest);
    });
  }

  /** PUTs a manifest under a digest or tag; returns its digest, checked against the registry's answer. */
  async putManifest(repository: string, reference: string, mediaType: string, body: Buffer): Promise<string> {
    const digest = sha256(body);
    if (isDigest(reference) && reference !== digest) {
      throw new RegistryError(`manifest to PUT as ${reference} hashes to ${digest}`);
    }
    const url = this.url(repository, 'manifests', reference);
    const answer = await this.send('PUT', url, { 'content-type': mediaType }, ANSWER_LIMIT, body);
    this.expectOk(answer, 'PUT', url, 201);
    this.expectDigest(answer, 'PUT', url, digest);
    return digest;
  }

  /** Digests go with a literal colon (`sha256:<hex>`), as docker, containerd and go-containerregistry send them. */
  private url(repository: string, kind: 'manifests' | 'blobs', reference: string): URL {
    if (!isDigest(reference) && !TAG.test(reference)) {
      throw new RegistryError(`${JSON.stringify(reference)} is neither a tag nor a sha256 digest`);
    }
    return new URL(`${this.origin}/v2/${repository}/${kind}/${reference}`);
  }

  /** A registry that names another digest for what it stored did not store these bytes. */
  private expectDigest(answer: Answer, method: Method, url: URL, digest: string): void {
    const stored = answer.headers.get('docker-content-digest');
    if (stored && stored !== digest) {
      throw new RegistryError(`${method} ${shown(url)} stored ${stored}, not ${digest}`);
    }
  }

  private expectOk(answer: Answer, method: Method, url: URL, expected = 200): void {
    if (answer.status === expected) return;
    const may = method === 'GET' || method === 'HEAD' ? 'pull from' : 'push to';
    const hint =
      answer.status === 401 || answer.status === 403
        ? `the registry refused the ECR credentials; check that the role may ${may} this repository`
        : undefined;
    throw statusError(method, url, answer, hint);
  }

  /** One logical request, retried as a whole (redirect chain included) on transient failures. */
  private send(method: Method, url: URL, headers: Record<string, string>, limit: number, body?: Buffer) {
    return this.retrying(`${method} ${shown(url)}`, () => this.once(method, url, headers, limit, body));
  }

  private retrying<T>(what: string, attempt: () => Promise<T>): Promise<T> {
    return retry(attempt, {
      attempts: 5,
      baseMs: 500,
      maxDelayMs: 8_000,
      ...this.options.retry,
      classify: classifyHttp,
      ...(this.options.signal ? { signal: this.options.signal } : {}),
      onRetry: (error, attempt, delayMs) => {
        const why = error instanceof Error ? error.message : String(error);
        this.options.onRetry?.(`${what} failed (${why}); attempt ${attempt + 1} in ${delayMs} ms`);
      },
    });
  }

  /** One request and its redirects (blob reads redirect to S3; the transport keeps the credentials here). */
  private async once(
    method: Method,
    url: URL,
    headers: Record<string, string>,
    limit: number,
    body?: Buffer,
  ): Promise<Answer> {
    const answer = await send(url, {
      method,
      signal: this.options.signal,
      timeoutMs: this.options.timeoutMs ?? REQUEST_TIMEOUT_MS,
      redirects: MAX_REDIRECTS,
      ...(body ? { body } : {}),
      headers: this.options.authorization
        ? { ...headers, authorization: `Basic ${this.options.authorization}` }
        : headers,
    });
    const ok = answer.status >= 200 && answer.status < 300;
    let bytes: Buffer = Buffer.alloc(0);
    if (method === 'HEAD') await answer.body.dump();
    else bytes = await readLimited(answer, ok ? limit : ANSWER_LIMIT, `${method} ${shown(url)}`);
    const read: Answer = { status: answer.status, headers: answer.headers, body: bytes };
    // Thrown here, so the whole request (redirects included) is retried.
    if (retryableStatus(read.status)) throw statusError(method, url, read);
    return read;
  }
}

function mediaTypeOf(headers: Headers): string {
  return (headers.get('content-type') ?? '').split(';')[0]?.trim() ?? '';
}

/** The client a stage uses: its run's cancellation, retries told to its log. */
export function ociClientFor(
  ctx: { signal: AbortSignal },
  log: { info(message: string): void },
  registry: string,
  authorization: string,
): OciClient {
  return new OciClient({
    registry,
    authorization,
    signal: ctx.signal,
    onRetry: (message) => log.info(message),
  });
}
