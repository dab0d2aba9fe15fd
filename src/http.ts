import { isNetworkError, type Verdict } from './retry.ts';

/** An HTTP answer that is not 200, kept for the classifier and the message. */
export class HttpStatusError extends Error {
  constructor(
    readonly url: string,
    readonly status: number,
    detail: string,
  ) {
    super(`GET ${url} answered HTTP ${status}${detail ? `: ${detail}` : ''}`);
    this.name = 'HttpStatusError';
  }
}

/**
 * `signal`, also aborted with a TimeoutError after `ms`; `clear` when the request is over. Not
 * AbortSignal.any([signal, AbortSignal.timeout(ms)]): Node 20 may garbage-collect a timeout signal held only
 * by such a composite, and then it never fires (a hung server held teleport-version for good).
 */
export function timeoutSignal(
  ms: number,
  signal?: AbortSignal,
): { signal: AbortSignal; timedOut: () => boolean; clear: () => void } {
  const timeout = new AbortController();
  const timer = setTimeout(
    () => timeout.abort(new DOMException(`timed out after ${ms} ms`, 'TimeoutError')),
    ms,
  );
  timer.unref();
  return {
    signal: signal ? AbortSignal.any([signal, timeout.signal]) : timeout.signal,
    timedOut: () => timeout.signal.aborted,
    clear: () => clearTimeout(timer),
  };
}

/** The backoff for plain HTTPS endpoints and downloads: four attempts, 1, 2 and 4 s apart (jittered). */
export const HTTP_BACKOFF = { attempts: 4, baseMs: 1_000, maxDelayMs: 8_000 } as const;

/** Plain HTTPS endpoints (Teleport's /webapi/find, the runner's OIDC endpoint): 5xx, 429 and network retry. */
export function classifyHttp(error: unknown): Verdict {
  if (error instanceof HttpStatusError) return error.status >= 500 || error.status === 429 ? 'retry' : 'fail';
  return isNetworkError(error) ? 'retry' : 'fail';
}
