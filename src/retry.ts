/** What a classifier says about one failed attempt. */
export type Verdict = 'retry' | 'fail';

export interface RetryOptions {
  /** Attempts in all, the first included. */
  attempts: number;
  /** Delay before the second attempt; doubles each time, with full jitter. */
  baseMs: number;
  maxDelayMs?: number;
  /** Give up once this much time has passed since the first attempt. */
  deadlineMs?: number;
  classify: (error: unknown) => Verdict;
  /** Told before each wait, e.g. to print progress. */
  onRetry?: (error: unknown, attempt: number, delayMs: number) => void;
  signal?: AbortSignal;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  random?: () => number;
  now?: () => number;
}

export const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });

/** Runs `attempt` until it succeeds, the classifier says fail, or attempts or time run out. */
export async function retry<T>(attempt: (n: number) => Promise<T>, options: RetryOptions): Promise<T> {
  const wait = options.sleep ?? sleep;
  const random = options.random ?? Math.random;
  const now = options.now ?? Date.now;
  const started = now();
  for (let n = 1; ; n++) {
    try {
      return await attempt(n);
    } catch (error) {
      if (options.signal?.aborted) throw error;
      if (n >= options.attempts || options.classify(error) === 'fail') throw error;
      const ceiling = Math.min(options.baseMs * 2 ** (n - 1), options.maxDelayMs ?? Number.POSITIVE_INFINITY);
      const delay = Math.round(ceiling / 2 + (random() * ceiling) / 2);
      if (options.deadlineMs !== undefined && now() - started + delay > options.deadlineMs) throw error;
      options.onRetry?.(error, n, delay);
      await wait(delay, options.signal);
    }
  }
}
