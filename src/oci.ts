import { createHash } from 'node:crypto';
import { ActionError } from './errors.ts';
import { timeoutSignal } from './http.ts';
import { isNetworkError, type RetryOptions, retry } from './retry.ts';

/** Manifest media types the action reads; asking for all of them keeps a registry from answering 404/406. */
export const MEDIA_TYPES = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
} as const;

const MANIFEST_ACCEPT = Object.values(MEDIA_TYPES).join(', ');
const DIGEST = /^sha256:[a-f0-9]{64}$/;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 5;
const MANIFEST_LIMIT = 4 << 20;
/** What a write's answer may carry: a status, headers and at most an error document. */
const ANSWER_LIMIT = 64 << 10;
/** A baked kustomization is kilobytes; anything near this is not ours. */
const BLOB_LIMIT = 256 << 20;
/** Registry error codes that mean "not there" rather than "something is wrong". */
const ABSENT = new Set(['MANIFEST_UNKNOWN', 'NAME_UNKNOWN']);

export const isDigest = (value: string): boolean => DIGEST.test(value);

export const sha256 = (data: Uint8Array): string =>
  `sha256:${createHash('sha256').update(data).digest('hex')}`;

/** A registry answer the action cannot use; `status` 0 means the request never got one. */
export class RegistryError extends ActionError {
  constructor(
    message: string,
    readonly status: number,
    /** The registry's error code (`MANIFEST_UNKNOWN`, `DENIED`, …), when it sent one. */
    readonly code: string | undefined,
    options: { hint?: string; cause?: unknown } = {},
  ) {
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
  /** Per request, redirects and body included. */
  timeoutMs?: number;
  retry?: Partial<Omit<RetryOptions, 'classify' | 'signal'>>;
  /** Told before each retry, e.g. to log it. */
  onRetry?: (message: string) => void;
}

type Method = 'GET' | 'HEAD' | 'POST' | 'PUT';

interface Answer {
  status: number;
  headers: Headers;
  body: Buffer;
}

/** Retry what a second attempt may fix: server errors, throttling, dropped connections, timeouts. */
export function classifyRegistryError(error: unknown): 'retry' | 'fail' {
  if (error instanceof RegistryError) {
    return error.status >= 500 || error.status === 429 || error.status === 408 || error.status === 0
      ? 'retry'
      : 'fail';
  }
  return isNetworkError(error) ? 'retry' : 'fail';
}

/** The registry's `{"errors":[{code,message}]}`, when the body is one. */
function registryErrors(body: Buffer): { code: string | undefined; message: string | undefined } {
  try {
    const parsed = JSON.parse(body.toString('utf8')) as { errors?: { code?: unknown; message?: unknown }[] };
    const first = parsed.errors?.[0];
    return {
      code: typeof first?.code === 'string' ? first.code : undefined,
      message: typeof first?.message === 'string' ? first.message : undefined,
    };
  } catch {
    return { code: undefined, message: undefined };
  }
}

/** Where a request went, without the query: a pre-signed S3 URL carries credentials there. */
const shown = (url: URL): string => `${url.origin}${url.pathname}`;

async function readLimited(response: Response, limit: number, url: URL): Promise<Buffer> {
  const declared = Number(response.headers.get('content-length') ?? Number.NaN);
  if (declared > limit) {
    await response.body?.cancel();
    throw new RegistryError(
      `${shown(url)} is ${declared} bytes, more than the ${limit} expected`,
      response.status,
      undefined,
    );
  }
  if (!response.body) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of response.body) {
    size += chunk.length;
    if (size > limit) {
      throw new RegistryError(
        `${shown(url)} sent more than the ${limit} bytes expected`,
        response.status,
        undefined,
      );
    }
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks);
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
      throw new RegistryError(
        `HEAD ${shown(url)} answered without a sha256 Docker-Content-Digest`,
        200,
        undefined,
      );
    }
    if (isDigest(reference) && digest !== reference) {
      throw new RegistryError(`HEAD ${shown(url)} answered digest ${digest}`, 200, undefined);
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
        200,
        undefined,
        { hint: 'the registry or something between it and the runner altered the manifest' },
      );
    }
    return { digest, mediaType: mediaTypeOf(answer.headers), size: answer.body.length, body: answer.body };
  }

  /** A blob's bytes, checked against its sha256 digest. */
  async getBlob(repository: string, digest: string, limit = BLOB_LIMIT): Promise<Buffer> {
    if (!isDigest(digest))
      throw new RegistryError(`blob digest ${digest} is not sha256:<64 hex>`, 0, undefined);
    const url = this.url(repository, 'blobs', digest);
    const answer = await this.send('GET', url, {}, limit);
    this.expectOk(answer, 'GET', url);
    const actual = sha256(answer.body);
    if (actual !== digest) {
      throw new RegistryError(
        `blob ${digest} of ${repository} arrived with sha256 ${actual}`,
        200,
        undefined,
        {
          hint: 'the blob is corrupt in the registry or was altered on the way',
        },
      );
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
    if (actual !== digest) {
      throw new RegistryError(`blob ${digest} to upload hashes to ${actual}`, 0, undefined);
    }
    const start = new URL(`${this.origin}/v2/${repository}/blobs/uploads/`);
    await this.retrying(`upload of ${digest} to ${shown(start)}`, async () => {
      const opened = await this.once('POST', start, {}, ANSWER_LIMIT, Buffer.alloc(0));
      this.expectOk(opened, 'POST', start, 202);
      const location = opened.headers.get('location');
      if (!location)
        throw new RegistryError(`POST ${shown(start)} answered without a Location`, 202, undefined);
      const session = new URL(location, start);
      if (session.protocol !== 'https:') {
        throw new RegistryError(
          `POST ${shown(start)} sent the upload to ${session.protocol}`,
          202,
          undefined,
          {
            hint: 'registries are reached over HTTPS only',
          },
        );
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
      throw new RegistryError(`manifest to PUT as ${reference} hashes to ${digest}`, 0, undefined);
    }
    const url = this.url(repository, 'manifests', reference);
    const answer = await this.send('PUT', url, { 'content-type': mediaType }, ANSWER_LIMIT, body);
    this.expectOk(answer, 'PUT', url, 201);
    this.expectDigest(answer, 'PUT', url, digest);
    return digest;
  }

  private url(repository: string, kind: 'manifests' | 'blobs', reference: string): URL {
    return new URL(`${this.origin}/v2/${repository}/${kind}/${encodeURIComponent(reference)}`);
  }

  /** A registry that names another digest for what it stored did not store these bytes. */
  private expectDigest(answer: Answer, method: string, url: URL, digest: string): void {
    const stored = answer.headers.get('docker-content-digest');
    if (stored && stored !== digest) {
      throw new RegistryError(
        `${method} ${shown(url)} stored ${stored}, not ${digest}`,
        answer.status,
        undefined,
      );
    }
  }

  private expectOk(answer: Answer, method: Method, url: URL, expected = 200): void {
    if (answer.status === expected) return;
    const { code, message } = registryErrors(answer.body);
    const detail = code ? ` ${code}${message ? `: ${message}` : ''}` : '';
    const may = method === 'GET' || method === 'HEAD' ? 'pull from' : 'push to';
    const hint =
      answer.status === 401 || answer.status === 403
        ? `the registry refused the ECR credentials; check that the role may ${may} this repository`
        : undefined;
    throw new RegistryError(
      `${method} ${shown(url)} answered ${answer.status}${detail}`,
      answer.status,
      code,
      {
        ...(hint ? { hint } : {}),
      },
    );
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
      classify: classifyRegistryError,
      ...(this.options.signal ? { signal: this.options.signal } : {}),
      onRetry: (error, attempt, delayMs) => {
        const why = error instanceof Error ? error.message : String(error);
        this.options.onRetry?.(`${what} failed (${why}); attempt ${attempt + 1} in ${delayMs} ms`);
      },
    });
  }

  private async once(
    method: Method,
    start: URL,
    headers: Record<string, string>,
    limit: number,
    body?: Buffer,
  ): Promise<Answer> {
    const timeoutMs = this.options.timeoutMs ?? 30_000;
    const timeout = timeoutSignal(timeoutMs, this.options.signal);
    const { signal } = timeout;
    let url = start;
    try {
      for (let hop = 0; ; hop++) {
        const response = await fetch(url, {
          method,
          redirect: 'manual',
          signal,
          ...(body ? { body } : {}),
          headers:
            url.origin === this.origin && this.options.authorization
              ? { ...headers, authorization: `Basic ${this.options.authorization}` }
              : headers,
        });
        const location = response.headers.get('location');
        if (REDIRECTS.has(response.status) && location) {
          await response.body?.cancel();
          url = this.redirect(url, new URL(location, url), response.status, hop);
          continue;
        }
        const answer =
          method === 'HEAD'
            ? Buffer.alloc(0)
            : await readLimited(response, response.ok ? limit : 64 << 10, url);
        if (response.status >= 500 || response.status === 429 || response.status === 408) {
          const { code, message } = registryErrors(answer);
          const detail = code ? ` ${code}${message ? `: ${message}` : ''}` : '';
          throw new RegistryError(
            `${method} ${shown(url)} answered ${response.status}${detail}`,
            response.status,
            code,
          );
        }
        return { status: response.status, headers: response.headers, body: answer };
      }
    } catch (error) {
      if (error instanceof RegistryError || this.options.signal?.aborted) throw error;
      const why = timeout.timedOut() ? `timed out after ${timeoutMs} ms` : 'failed';
      throw new RegistryError(`${method} ${shown(url)} ${why}`, 0, undefined, { cause: error });
    } finally {
      timeout.clear();
    }
  }

  /** The next hop of a redirect: HTTPS only, and a bounded chain. */
  private redirect(from: URL, to: URL, status: number, hop: number): URL {
    if (to.protocol !== 'https:') {
      throw new RegistryError(`${shown(from)} redirected to ${to.protocol} ${shown(to)}`, status, undefined, {
        hint: 'registries are reached over HTTPS only',
      });
    }
    if (hop >= MAX_REDIRECTS) {
      throw new RegistryError(
        `${shown(from)} redirected more than ${MAX_REDIRECTS} times`,
        status,
        undefined,
      );
    }
    return to;
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
