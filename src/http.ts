import type { HttpHandler, HttpRequest as SdkRequest } from '@smithy/core/protocols';
import { buildQueryString, HttpResponse } from '@smithy/core/protocols';
import type { HttpHandlerOptions } from '@smithy/types';
import { Agent, type Dispatcher, ProxyAgent, request } from 'undici';
import { ActionError } from './errors.ts';
import { DIRECT, type Proxies, proxyFor, proxyName } from './proxy.ts';
import type { Verdict } from './retry.ts';

/**
 * The one HTTP transport: every request the action makes itself (Teleport, the OIDC token, tool downloads, the
 * registry, and STS and ECR through the AWS SDK) goes through `send`, the only place that opens connections.
 */

export type Method = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'CONNECT';

export interface HttpRequest {
  method?: Method;
  headers?: Record<string, string> | undefined;
  body?: string | Uint8Array | undefined;
  signal?: AbortSignal | undefined;
  /**
   * The one timeout: how long the server may stay silent, before its headers or between two pieces of the
   * body. A large download keeps going while bytes arrive; a hung server fails within this bound.
   */
  timeoutMs: number;
  /** Redirects to follow (never from HTTPS to HTTP; `authorization` is dropped once the origin changes). */
  redirects?: number;
}

export interface HttpAnswer {
  status: number;
  headers: Headers;
  /** Read it (`chunks()`, `readLimited`) or `dump()` it, so the connection can be reused. */
  body: Dispatcher.ResponseData['body'];
  /** The body as it arrives; a stall or a dropped connection is a RequestError like one before the headers. */
  chunks(): AsyncGenerator<Buffer>;
}

const CONNECT_TIMEOUT_MS = 10_000;

// Loading undici makes its Agent Node's global fetch dispatcher, which Node 20's own fetch does not always get
// along with: the action never calls the global fetch, only `send` below.

/** The runner's proxies, set once at start (main); every request below honours them. */
let proxies: Proxies = DIRECT;
let direct: Agent | undefined;
const viaProxy = new Map<string, ProxyAgent>();

export function useProxies(settings: Proxies): void {
  proxies = settings;
}

/** Who carries a request to `url`: the proxy the runner's settings name for it, or a direct connection. */
function dispatcherFor(url: URL): { dispatcher: Dispatcher; proxy: URL | undefined } {
  const proxy = proxyFor(proxies, url);
  if (!proxy) {
    direct ??= new Agent({ connect: { timeout: CONNECT_TIMEOUT_MS } });
    return { dispatcher: direct, proxy };
  }
  let agent = viaProxy.get(proxy.href);
  if (!agent) {
    // The credentials in the URL become a Proxy-Authorization header; an https:// proxy is reached over TLS.
    agent = new ProxyAgent({ uri: proxy.href, connect: { timeout: CONNECT_TIMEOUT_MS } });
    viaProxy.set(proxy.href, agent);
  }
  return { dispatcher: agent, proxy };
}

/** A URL as messages show it: without the query, where a pre-signed S3 URL carries credentials. */
export const shown = (url: URL | string): string => {
  const u = new URL(url);
  return `${u.origin}${u.pathname}`;
};

/** A request that got no (whole) answer: refused, reset, timed out. The transport's error is the cause. */
export class RequestError extends Error {
  constructor(what: string, cause: unknown, timeoutMs: number) {
    super(`${what} ${describeCause(cause, timeoutMs)}`, { cause });
    this.name = 'RequestError';
  }
}

/** An answer with a status the caller did not want; `code` is the service's own error code when it sent one. */
export class HttpStatusError extends ActionError {
  constructor(
    readonly method: Method,
    readonly url: string,
    readonly status: number,
    readonly detail: string,
    options: { code?: string | undefined; hint?: string } = {},
  ) {
    super(`${method} ${url} answered HTTP ${status}${detail ? `: ${detail}` : ''}`, {
      ...(options.hint ? { hint: options.hint } : {}),
    });
    this.name = 'HttpStatusError';
    this.code = options.code;
  }

  readonly code: string | undefined;
}

const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT']);

function describeCause(cause: unknown, timeoutMs: number): string {
  const code = (cause as { code?: unknown } | null)?.code;
  if (code === 'UND_ERR_CONNECT_TIMEOUT') return `failed: could not connect within ${CONNECT_TIMEOUT_MS} ms`;
  if (typeof code === 'string' && TIMEOUT_CODES.has(code))
    return `timed out after ${timeoutMs} ms without an answer`;
  return `failed: ${cause instanceof Error ? cause.message || cause.name : String(cause)}`;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/**
 * Sends one request, following up to `redirects` redirects. Credentials never leave the origin they were meant
 * for (a registry's blob redirect goes to S3 with its own pre-signed query). Fails with the run's reason when
 * `signal` aborts.
 */
export async function send(url: URL | string, req: HttpRequest): Promise<HttpAnswer> {
  const first = new URL(url);
  let target = first;
  let method = req.method ?? 'GET';
  let { headers, body } = req;
  for (let hop = 0; ; hop++) {
    const answer = await sendOnce(target, { ...req, method, headers, body });
    const location = answer.headers.get('location');
    if (!REDIRECTS.has(answer.status) || !location || req.redirects === undefined) return answer;
    await answer.body.dump();
    const next = new URL(location, target);
    if (target.protocol === 'https:' && next.protocol !== 'https:') {
      throw new ActionError(`${shown(target)} redirected to ${next.protocol} ${shown(next)}`, {
        hint: 'a redirect away from HTTPS is never followed',
      });
    }
    if (hop >= req.redirects)
      throw new ActionError(`${shown(first)} redirected more than ${req.redirects} times`);
    if (next.origin !== first.origin && headers?.['authorization'] !== undefined) {
      const { authorization: _dropped, ...rest } = headers;
      headers = rest;
    }
    // As browsers and curl do: 307 and 308 repeat the request, the others turn it into a GET.
    if (answer.status !== 307 && answer.status !== 308 && method !== 'HEAD') {
      method = 'GET';
      body = undefined;
    }
    target = next;
  }
}

async function sendOnce(target: URL, req: HttpRequest & { method: Method }): Promise<HttpAnswer> {
  const { dispatcher, proxy } = dispatcherFor(target);
  const what = `${req.method} ${shown(target)}${proxy ? ` through proxy ${proxyName(proxy)}` : ''}`;
  try {
    const answer = await request(target, {
      method: req.method,
      ...(req.headers ? { headers: req.headers } : {}),
      ...(req.body !== undefined ? { body: req.body } : {}),
      ...(req.signal ? { signal: req.signal } : {}),
      dispatcher,
      headersTimeout: req.timeoutMs,
      bodyTimeout: req.timeoutMs,
    });
    const headers = new Headers();
    for (const [name, value] of Object.entries(answer.headers)) {
      for (const one of Array.isArray(value) ? value : [value])
        if (one !== undefined) headers.append(name, one);
    }
    const body = answer.body;
    async function* chunks(): AsyncGenerator<Buffer> {
      try {
        for await (const chunk of body) yield chunk as Buffer;
      } catch (error) {
        if (req.signal?.aborted) throw req.signal.reason;
        throw new RequestError(`${what} (reading the answer)`, error, req.timeoutMs);
      }
    }
    return { status: answer.statusCode, headers, body, chunks };
  } catch (error) {
    if (req.signal?.aborted) throw req.signal.reason;
    const refused = proxy ? proxyRefusal(error, proxy, target) : undefined;
    throw refused ?? new RequestError(what, error, req.timeoutMs);
  }
}

/** A proxy's answer other than 200 to CONNECT, as the status error it is (a 503 is retried, a 407 is not). */
function proxyRefusal(error: unknown, proxy: URL, target: URL): HttpStatusError | undefined {
  const status = /Proxy response \((\d{3})\)/.exec(error instanceof Error ? error.message : '')?.[1];
  if (!status) return undefined;
  const hints: Record<string, string> = {
    '407':
      'the proxy wants credentials: give them in the proxy variable, e.g. HTTPS_PROXY=http://user:password@host:port',
    '403': `the proxy does not let the runner reach ${target.host}: have it allowed, or list the host in NO_PROXY`,
  };
  return new HttpStatusError(
    'CONNECT',
    `${target.host} through proxy ${proxyName(proxy)}`,
    Number(status),
    '',
    {
      ...(hints[status] ? { hint: hints[status] } : {}),
    },
  );
}

/** The whole body, refused past `limit` bytes (declared or sent): an answer far larger than expected is not ours. */
export async function readLimited(answer: HttpAnswer, limit: number, what: string): Promise<Buffer> {
  const declared = Number(answer.headers.get('content-length') ?? Number.NaN);
  if (declared > limit) {
    await answer.body.dump();
    throw new ActionError(`${what} is ${declared} bytes, more than the ${limit} expected`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of answer.chunks()) {
    size += chunk.length;
    if (size > limit) {
      answer.body.destroy();
      throw new ActionError(`${what} sent more than the ${limit} bytes expected`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** JSON.parse, or undefined for text that is not JSON. */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    if (error instanceof SyntaxError) return undefined;
    throw error;
  }
}

/** What an error answer says: its JSON `error.message` or `message` (Teleport, GitHub), else its first line. */
function errorDetail(text: string): string {
  const json = parseJson(text) as { error?: { message?: unknown }; message?: unknown } | undefined;
  const message = json?.error?.message ?? json?.message;
  return (typeof message === 'string' ? message : (text.split('\n')[0] ?? '')).slice(0, 200);
}

/** A small JSON document: Teleport's /webapi/find, the runner's OIDC token. */
const JSON_LIMIT = 1 << 20;

/** GETs a JSON document; any answer but 200 with JSON is an error naming the URL (never its query). */
export async function getJson(
  url: string,
  options: { headers?: Record<string, string>; signal?: AbortSignal | undefined; timeoutMs: number },
): Promise<unknown> {
  const where = shown(url);
  const answer = await send(url, {
    headers: { accept: 'application/json', ...options.headers },
    signal: options.signal,
    timeoutMs: options.timeoutMs,
  });
  const text = (await readLimited(answer, JSON_LIMIT, `GET ${where}`)).toString('utf8');
  if (answer.status !== 200) throw new HttpStatusError('GET', where, answer.status, errorDetail(text));
  const value = parseJson(text);
  if (value === undefined) throw new ActionError(`GET ${where} did not answer JSON`);
  return value;
}

const TRANSIENT_NETWORK = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'ENOTFOUND',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  ...TIMEOUT_CODES,
  'TimeoutError',
]);

/** True for connection-level failures that a second attempt may not meet. */
export function isNetworkError(error: unknown): boolean {
  for (let current = error, depth = 0; current instanceof Error && depth < 5; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && TRANSIENT_NETWORK.has(code)) return true;
    if (TRANSIENT_NETWORK.has(current.name)) return true;
    current = current.cause;
  }
  return false;
}

/** Statuses a second attempt may not meet: server errors, throttling, a request timeout. */
export const retryableStatus = (status: number): boolean => status >= 500 || status === 429 || status === 408;

/** The one classifier of HTTP failures: server errors, throttling, timeouts and dropped connections retry. */
export function classifyHttp(error: unknown): Verdict {
  if (error instanceof HttpStatusError) return retryableStatus(error.status) ? 'retry' : 'fail';
  return isNetworkError(error) ? 'retry' : 'fail';
}

/** The backoff for plain HTTPS endpoints and downloads: four attempts, 1, 2 and 4 s apart (jittered). */
export const HTTP_BACKOFF = { attempts: 4, baseMs: 1_000, maxDelayMs: 8_000 } as const;

/** How long STS or ECR may stay silent: the SDK itself waits forever by default. */
const SDK_TIMEOUT_MS = 30_000;

/** The AWS SDK clients' request handler: their requests take the same transport as every other. */
class SdkRequestHandler implements HttpHandler {
  readonly metadata = { handlerProtocol: 'http/1.1' };

  async handle(req: SdkRequest, options: HttpHandlerOptions = {}) {
    const query = req.query ? buildQueryString(req.query) : '';
    const url = `${req.protocol}//${req.hostname}${req.port ? `:${req.port}` : ''}${req.path}${query ? `?${query}` : ''}`;
    const answer = await send(url, {
      method: req.method as Method,
      headers: req.headers,
      body: req.body as string | Uint8Array | undefined,
      signal: options.abortSignal as AbortSignal | undefined,
      timeoutMs: SDK_TIMEOUT_MS,
    });
    const headers: Record<string, string> = {};
    answer.headers.forEach((value, name) => {
      headers[name] = value;
    });
    return { response: new HttpResponse({ statusCode: answer.status, headers, body: answer.body }) };
  }

  updateHttpClientConfig(): void {}

  httpHandlerConfigs(): Record<string, never> {
    return {};
  }
}

export const sdkRequestHandler = (): HttpHandler => new SdkRequestHandler();
