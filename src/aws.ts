import type * as Ecr from '@aws-sdk/client-ecr';
import type * as Sts from '@aws-sdk/client-sts';
import { classifyHttp, HttpStatusError, isNetworkError, sdkRequestHandler } from './http.ts';
import type { Log } from './log.ts';
import type { RetryOptions, Verdict } from './retry.ts';

/** Temporary credentials from STS; they live in memory only and never reach a child's environment. */
export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  expiration?: Date;
}

/** Credentials, or where to get them: a provider is asked before each call, so it can mint fresh ones. */
export type AwsCredentialsSource = AwsCredentials | (() => Promise<AwsCredentials>);

// Endpoints come from the SDK's own AWS_ENDPOINT_URL_<SERVICE> variables and TLS trust from
// NODE_EXTRA_CA_CERTS, so nothing here reads either: the product code is the same in tests and on a runner.

/**
 * The SDK's modules, loaded when a stage first talks to AWS: they are most of the bundle, and the stages
 * before `assume` (and a dry run) never need them.
 */
export const ecrSdk = (): Promise<typeof Ecr> => import('@aws-sdk/client-ecr');
export const stsSdk = (): Promise<typeof Sts> => import('@aws-sdk/client-sts');

/** Loads the SDK in the background while a stage waits on something else; a failure resurfaces on first use. */
export function preloadAwsSdk(): void {
  Promise.all([ecrSdk(), stsSdk()]).catch(() => undefined);
}

/** An ECR client in `region`, its requests on the action's transport. */
export async function ecrClient(credentials: AwsCredentialsSource, region: string): Promise<Ecr.ECRClient> {
  const { ECRClient } = await ecrSdk();
  quietNodeVersionWarning();
  return new ECRClient({ region, credentials, requestHandler: sdkRequestHandler() });
}

/** The STS client for AssumeRoleWithWebIdentity; that call is unsigned (no-auth scheme), so it needs no credentials. */
export async function stsClient(region: string): Promise<Sts.STSClient> {
  const { STSClient } = await stsSdk();
  quietNodeVersionWarning();
  return new STSClient({ region, requestHandler: sdkRequestHandler() });
}

// The SDK warns on stderr that its future releases need Node 22: advice for the action's maintainers
// (who choose `runs.using`), which a workflow author can do nothing about.
function quietNodeVersionWarning(): void {
  process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';
}

const THROTTLING = new Set([
  'ThrottlingException',
  'Throttling',
  'ThrottledException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'SlowDown',
  'LimitExceededException',
]);

interface SdkErrorShape {
  name?: unknown;
  $metadata?: { httpStatusCode?: unknown };
  $retryable?: unknown;
}

/** The HTTP status an SDK error arrived with, when it came from a response. */
export function awsStatus(error: unknown): number | undefined {
  const status = (error as SdkErrorShape | null)?.$metadata?.httpStatusCode;
  return typeof status === 'number' ? status : undefined;
}

/** Transient for any AWS call: throttling, 5xx, 429, a retryable-modelled error, or a dropped connection. */
export function classifyAwsError(error: unknown): Verdict {
  // The transport's own failures (a connection, a proxy's answer to CONNECT) are judged as on every other path.
  if (isNetworkError(error) || error instanceof HttpStatusError) return classifyHttp(error);
  if (!(error instanceof Error)) return 'fail';
  const shape = error as SdkErrorShape;
  if (THROTTLING.has(error.name)) return 'retry';
  if (shape.$retryable !== undefined && shape.$retryable !== null) return 'retry';
  const status = awsStatus(error);
  if (status !== undefined && (status >= 500 || status === 429)) return 'retry';
  return 'fail';
}

/** The retry policy of every ECR call: AWS's classification, jittered backoff up to 10 s, each retry logged. */
export function ecrRetry(signal: AbortSignal, log: Log, operation: string, attempts = 5): RetryOptions {
  return {
    attempts,
    baseMs: 1_000,
    maxDelayMs: 10_000,
    classify: classifyAwsError,
    signal,
    onRetry: (error, n, ms) =>
      log.info(`${operation}: attempt ${n} failed (${String(error)}); retrying in ${ms} ms`),
  };
}
