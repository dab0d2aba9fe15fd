import type { AwsCredentials } from './aws.ts';
import type { Log } from './log.ts';
import type { Jwt } from './tbot.ts';

/**
 * Credentials with less than this left are minted again before they are used, so a long `wait-for-images`
 * (up to an hour, the STS session's own length) never ends in ExpiredToken.
 */
export const REFRESH_MARGIN_MS = 5 * 60_000;

/** True when `expiresAt` is less than the margin away; credentials without an expiry never expire. */
export const expiring = (expiresAt: Date | undefined, now = Date.now()): boolean =>
  expiresAt !== undefined && expiresAt.getTime() - now < REFRESH_MARGIN_MS;

/** How the session mints: tbot for a JWT, STS for credentials; each told the log of the stage that asked. */
export interface Minters {
  jwt(log: Log): Promise<Jwt>;
  credentials(jwt: string, log: Log): Promise<AwsCredentials>;
}

/**
 * The run's AWS identity: the STS credentials and the workload-identity JWT behind them. Asked for credentials,
 * it hands out the current ones, or mints new ones first (a new JWT too when that is near expiry) when they are
 * about to expire. Concurrent callers share one refresh.
 */
export class AwsSession {
  private refreshing: Promise<AwsCredentials> | undefined;

  constructor(
    private jwt: Jwt,
    private current: AwsCredentials,
    private readonly mint: Minters,
    private readonly now: () => number = Date.now,
  ) {}

  credentials(log: Log): Promise<AwsCredentials> {
    if (!expiring(this.current.expiration, this.now())) return Promise.resolve(this.current);
    this.refreshing ??= this.refresh(log).finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  private async refresh(log: Log): Promise<AwsCredentials> {
    const left = (at: Date | undefined) => (at ? `${Math.round((at.getTime() - this.now()) / 1000)} s` : '?');
    log.info(`the AWS credentials expire in ${left(this.current.expiration)}: minting new ones`);
    if (expiring(this.jwt.expiresAt, this.now())) this.jwt = await this.mint.jwt(log);
    this.current = await this.mint.credentials(this.jwt.jwt, log);
    return this.current;
  }
}
