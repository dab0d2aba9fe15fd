import { createHash } from 'node:crypto';
import { open, rm } from 'node:fs/promises';
import { ActionError } from '../errors.ts';
import { classifyHttp, HTTP_BACKOFF, HttpStatusError, send } from '../http.ts';
import { type RetryOptions, retry } from '../retry.ts';

export interface DownloadOptions {
  log: { info(message: string): void };
  signal?: AbortSignal | undefined;
  /** Overrides of the download retry (tests pass a no-op sleep). */
  retry?: Partial<Omit<RetryOptions, 'classify' | 'signal'>>;
  /** How long a download may go without a byte: DOWNLOAD_STALL_MS unless a test needs it short. */
  stallMs?: number;
}

/** A download stalled this long (no response, or no bytes) is abandoned and retried; a big asset still streams. */
export const DOWNLOAD_STALL_MS = 30_000;

/** Release downloads redirect to a storage host (GitHub to objects.githubusercontent.com). */
const DOWNLOAD_REDIRECTS = 5;

/**
 * Where the body of one download attempt goes as it arrives. A new one is opened for every attempt, so a retry
 * starts from nothing; whatever a failed attempt wrote is discarded before the next one begins.
 */
export interface Sink<T> {
  /** Takes the next piece of the body; the download waits for it before reading on. */
  write(chunk: Buffer): Promise<void>;
  /** The whole body arrived: finish writing and tell what was made of it. */
  end(): Promise<T>;
  /** Removes everything this sink wrote (an attempt failed). */
  discard(): Promise<void>;
}

/** A sink that keeps the body in `dest`, created owner-only; an existing file is an error. */
export async function fileSink(dest: string): Promise<Sink<string>> {
  const file = await open(dest, 'wx', 0o600);
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await file.close();
  };
  return {
    async write(chunk) {
      await file.write(chunk);
    },
    async end() {
      await close();
      return dest;
    },
    async discard() {
      await close().catch(() => {});
      await rm(dest, { force: true });
    },
  };
}

/**
 * One GET streamed into a fresh sink, hashed as the bytes pass rather than read back after (a Teleport bundle is
 * ~150 MB). Returns the sha256 in hex and what the sink made of the body; on any failure the sink is discarded.
 */
async function downloadOnce<T>(
  url: string,
  openSink: () => Promise<Sink<T>>,
  signal: AbortSignal | undefined,
  stallMs: number,
): Promise<{ sha256: string; result: T }> {
  const answer = await send(url, { signal, timeoutMs: stallMs, redirects: DOWNLOAD_REDIRECTS });
  if (answer.status !== 200) {
    await answer.body.dump();
    throw new HttpStatusError('GET', url, answer.status, '');
  }
  const hash = createHash('sha256');
  let sink: Sink<T> | undefined;
  try {
    sink = await openSink();
    // One chunk at a time, awaited: nothing piles up between the socket and the sink.
    for await (const chunk of answer.chunks()) {
      hash.update(chunk);
      await sink.write(chunk);
    }
    return { sha256: hash.digest('hex'), result: await sink.end() };
  } catch (error) {
    answer.body.destroy();
    await sink?.discard();
    throw error;
  }
}

/**
 * Streams `url` into a sink opened anew for each attempt, retrying what a second attempt may fix, and returns the
 * body's sha256 with the sink's result. Written on the action's transport rather than tool-cache's downloadTool,
 * which waits 3 minutes on a silent server and 10-20 s between attempts.
 */
export async function downloadTo<T>(
  url: string,
  openSink: () => Promise<Sink<T>>,
  options: DownloadOptions = { log: { info: () => {} } },
): Promise<{ sha256: string; result: T }> {
  const stallMs = options.stallMs ?? DOWNLOAD_STALL_MS;
  try {
    return await retry(() => downloadOnce(url, openSink, options.signal, stallMs), {
      ...HTTP_BACKOFF,
      ...options.retry,
      classify: classifyHttp,
      ...(options.signal ? { signal: options.signal } : {}),
      onRetry: (error, n, ms) =>
        options.log.info(
          `download attempt ${n} of ${url} failed (${error instanceof Error ? error.message : String(error)}); retrying in ${ms} ms`,
        ),
    });
  } catch (error) {
    if (options.signal?.aborted) throw error;
    const status = error instanceof HttpStatusError ? ` (HTTP ${error.status})` : '';
    throw new ActionError(`cannot download ${url}${status}`, {
      hint: 'check the version and, when set, that `tool-mirror` mirrors the release; a re-run is safe',
      cause: error,
    });
  }
}

/** Downloads `url` to `dest` (see downloadTo) and returns the file's path and sha256. */
export async function download(
  url: string,
  dest: string,
  options: DownloadOptions = { log: { info: () => {} } },
): Promise<{ path: string; sha256: string }> {
  const { sha256, result } = await downloadTo(url, () => fileSink(dest), options);
  return { path: result, sha256 };
}
