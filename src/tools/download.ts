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
 * One GET streamed to `dest` (created owner-only; an existing file is an error), hashed as the bytes pass
 * rather than read back after (a Teleport bundle is ~150 MB). Returns the sha256 in hex.
 */
async function downloadOnce(url: string, dest: string, signal: AbortSignal | undefined, stallMs: number) {
  try {
    const answer = await send(url, { signal, timeoutMs: stallMs, redirects: DOWNLOAD_REDIRECTS });
    if (answer.status !== 200) {
      await answer.body.dump();
      throw new HttpStatusError('GET', url, answer.status, '');
    }
    const hash = createHash('sha256');
    const file = await open(dest, 'wx', 0o600);
    try {
      // One chunk at a time, awaited: nothing piles up between the socket and the file.
      for await (const chunk of answer.chunks()) {
        hash.update(chunk);
        await file.write(chunk);
      }
    } finally {
      await file.close();
    }
    return hash.digest('hex');
  } catch (error) {
    await rm(dest, { force: true });
    throw error;
  }
}

/**
 * Downloads `url` to `dest`, retrying what a second attempt may fix, and returns the file's sha256. Written on
 * the action's transport rather than tool-cache's downloadTool, which waits 3 minutes on a silent server and
 * 10-20 s between attempts.
 */
export async function download(
  url: string,
  dest: string,
  options: DownloadOptions = { log: { info: () => {} } },
): Promise<{ path: string; sha256: string }> {
  const stallMs = options.stallMs ?? DOWNLOAD_STALL_MS;
  try {
    const sha256 = await retry(() => downloadOnce(url, dest, options.signal, stallMs), {
      ...HTTP_BACKOFF,
      ...options.retry,
      classify: classifyHttp,
      ...(options.signal ? { signal: options.signal } : {}),
      onRetry: (error, n, ms) =>
        options.log.info(
          `download attempt ${n} of ${url} failed (${error instanceof Error ? error.message : String(error)}); retrying in ${ms} ms`,
        ),
    });
    return { path: dest, sha256 };
  } catch (error) {
    if (options.signal?.aborted) throw error;
    const status = error instanceof HttpStatusError ? ` (HTTP ${error.status})` : '';
    throw new ActionError(`cannot download ${url}${status}`, {
      hint: 'check the version and, when set, that `tool-mirror` mirrors the release; a re-run is safe',
      cause: error,
    });
  }
}
