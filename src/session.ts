import type { AwsCredentials } from './aws.ts';
import type { Log } from './log.ts';
import type { Jwt } from './tbot.ts';

/**
 * Credentials with less than this left are minted again before they are used, so a long `wait-for-images`
 * (up to an hour, the STS session's own length) never ends in ExpiredToken.
 */
export const REFRESH_MARGIN_MS = 5 * 60_000;

/**
 * A value that expires (credentials, a token, a login): handed out as it is while it has more than `marginMs`
 * left, renewed first otherwise. Concurrent callers share one renewal.
 */
export class Renewing<T> {
  private renewal: Promise<T> | undefined;

  constructor(
    private current: T | undefined,
    private readonly expiresAt: (value: T) => Date | undefined,
    /** Told the value being replaced (undefined before the first) and the log of the stage that asked. */
    private readonly renew: (log: Log, previous: T | undefined) => Promise<T>,
    private readonly marginMs = REFRESH_MARGIN_MS,
  ) {}

  get(log: Log): Promise<T> {
    const current = this.current;
    if (current !== undefined) {
      const at = this.expiresAt(current);
      // A value without an expiry never expires; a fresh one already under the margin is used all the same.
      if (at === undefined || at.getTime() - Date.now() >= this.marginMs) return Promise.resolve(current);
    }
    this.renewal ??= this.renew(log, current)
      .then((next) => {
        this.current = next;
        return next;
      })
      .finally(() => {
        this.renewal = undefined;
      });
    return this.renewal;
  }
}

/** How the session mints: tbot for a JWT, STS for credentials; each told the log of the stage that asked. */
export interface Minters {
  jwt(log: Log): Promise<Jwt>;
  credentials(jwt: string, log: Log): Promise<AwsCredentials>;
}

const secondsLeft = (at: Date | undefined) =>
  at ? `${Math.round((at.getTime() - Date.now()) / 1000)} s` : '?';

/**
 * The run's AWS identity: the STS credentials and the workload-identity JWT behind them. Asked for credentials,
 * it hands out the current ones, or mints new ones first (a new JWT too when that is near expiry) when they are
 * about to expire.
 */
export class AwsSession {
  private readonly jwt: Renewing<Jwt>;
  private readonly current: Renewing<AwsCredentials>;

  constructor(jwt: Jwt, credentials: AwsCredentials, mint: Minters) {
    this.jwt = new Renewing(
      jwt,
      (j) => j.expiresAt,
      (log) => mint.jwt(log),
    );
    this.current = new Renewing(
      credentials,
      (c) => c.expiration,
      async (log, previous) => {
        log.info(`the AWS credentials expire in ${secondsLeft(previous?.expiration)}: minting new ones`);
        return mint.credentials((await this.jwt.get(log)).jwt, log);
      },
    );
  }

  credentials(log: Log): Promise<AwsCredentials> {
    return this.current.get(log);
  }
}
