import * as core from '@actions/core';
import type { AssumeRoleWithWebIdentityCommandOutput } from '@aws-sdk/client-sts';
import { type AwsCredentials, classifyAwsError, stsClient, stsSdk } from './aws.ts';
import type { Context } from './context.ts';
import { ActionError } from './errors.ts';
import { HttpStatusError, RequestError } from './http.ts';
import type { Log } from './log.ts';
import { retry, type Verdict } from './retry.ts';

/** STS as the action uses it: AssumeRoleWithWebIdentity with the workload-identity JWT, classified retries. */

export interface AssumedRole {
  credentials: AwsCredentials;
  /** The assumed-role ARN STS names. */
  arn: string;
}

const SESSION_MAX = 64;

/** `bake-<service>-<run id>`, cut to STS's 64 characters of [\w+=,.@-] with the run id kept whole. */
export function roleSessionName(service: string, runId: string): string {
  const clean = (value: string) => value.replace(/[^\w+=,.@-]/g, '-');
  const run = clean(runId).slice(0, 32) || '0';
  const room = SESSION_MAX - 'bake--'.length - run.length;
  return `bake-${clean(service).slice(0, room).replace(/-+$/, '')}-${run}`;
}

/** InvalidIdentityToken is often STS racing a fresh JWKS; past this many it is a real rejection. */
const INVALID_TOKEN_RETRIES = 2;

// By the SDK's exception names rather than its classes, so that classifying needs no SDK module loaded.
const is = (error: unknown, name: string) => error instanceof Error && error.name === name;
const isAccessDenied = (error: unknown) => is(error, 'AccessDenied') || is(error, 'AccessDeniedException');

/** Errors STS repeats however often it is asked: fail at once. */
const FATAL = [
  'ExpiredTokenException',
  'IDPRejectedClaimException',
  'MalformedPolicyDocumentException',
  'RegionDisabledException',
];

/** A classifier for one AssumeRoleWithWebIdentity sequence (it counts InvalidIdentityToken answers). */
export function stsClassifier(): (error: unknown) => Verdict {
  let invalidToken = 0;
  return (error) => {
    if (is(error, 'IDPCommunicationErrorException')) return 'retry';
    if (is(error, 'InvalidIdentityTokenException'))
      return ++invalidToken <= INVALID_TOKEN_RETRIES ? 'retry' : 'fail';
    if (isAccessDenied(error) || FATAL.some((name) => is(error, name))) return 'fail';
    return classifyAwsError(error);
  };
}

interface Subject {
  role: string;
  token: string;
  identity: string;
  region: string;
}

/** What to check for an error STS will repeat however often it is asked; undefined for any other error. */
export function fatalHint(error: unknown, s: Subject): string | undefined {
  if (isAccessDenied(error))
    return `check the trust policy of ${s.role}: it must trust the Teleport workload-identity issuer (the proxy's OIDC provider in IAM), allow sts:AssumeRoleWithWebIdentity, and match audience sts.amazonaws.com and the subject of workload identity '${s.identity}' (issued through join token '${s.token}')`;
  if (is(error, 'ExpiredTokenException'))
    return 'the JWT expired before STS checked it: check the runner clock and the TTL of the workload identity';
  if (is(error, 'IDPRejectedClaimException'))
    return `the JWT's claims do not meet the conditions of ${s.role}'s trust policy: check the audience (sts.amazonaws.com) and subject conditions against workload identity '${s.identity}' and join token '${s.token}'`;
  if (is(error, 'MalformedPolicyDocumentException'))
    return `fix the session policy or trust policy of ${s.role}`;
  if (is(error, 'RegionDisabledException'))
    return `STS is not activated in ${s.region}: activate it in the account, or set aws-region to an enabled region`;
  return undefined;
}

/** Who asks STS for what: the parts of the context an assumption needs. */
type Asker = Pick<Context, 'inputs' | 'runner' | 'signal'>;

/** AssumeRoleWithWebIdentity with the workload-identity JWT; the credentials are masked the moment they exist. */
export async function assumeRole(ctx: Asker, jwt: string, log: Pick<Log, 'info'>): Promise<AssumedRole> {
  const { awsRoleArn: role, awsRegion: region } = ctx.inputs;
  const subject = {
    role,
    region,
    token: ctx.inputs.teleportToken,
    identity: ctx.inputs.teleportWorkloadIdentity,
  };
  const { AssumeRoleWithWebIdentityCommand } = await stsSdk();
  const client = await stsClient(region);
  let response: AssumeRoleWithWebIdentityCommandOutput;
  try {
    response = await retry(
      () =>
        client.send(
          new AssumeRoleWithWebIdentityCommand({
            RoleArn: role,
            RoleSessionName: roleSessionName(ctx.inputs.service, ctx.runner.runId),
            WebIdentityToken: jwt,
            DurationSeconds: 3600,
          }),
          { abortSignal: ctx.signal },
        ),
      {
        attempts: 6,
        baseMs: 1000,
        maxDelayMs: 8000,
        classify: stsClassifier(),
        signal: ctx.signal,
        onRetry: (error, n, ms) =>
          log.info(`AssumeRoleWithWebIdentity attempt ${n}: ${describeSts(error)}; retrying in ${ms} ms`),
      },
    );
  } catch (error) {
    if (ctx.signal.aborted) throw error;
    throw stsFailure(error, subject, ctx.inputs.teleportFqdn);
  } finally {
    client.destroy();
  }
  const c = response.Credentials;
  if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken) {
    throw new ActionError(`STS answered AssumeRoleWithWebIdentity for ${role} without credentials`);
  }
  // Masked the moment they exist; kept in memory and handed to the SDK only.
  core.setSecret(c.SecretAccessKey);
  core.setSecret(c.SessionToken);
  core.setSecret(c.AccessKeyId);
  return {
    credentials: {
      accessKeyId: c.AccessKeyId,
      secretAccessKey: c.SecretAccessKey,
      sessionToken: c.SessionToken,
      ...(c.Expiration ? { expiration: c.Expiration } : {}),
    },
    arn: response.AssumedRoleUser?.Arn ?? role,
  };
}

/** Why STS did not give credentials, and what to check. */
function stsFailure(error: unknown, subject: Subject, teleportFqdn: string): ActionError {
  if (error instanceof RequestError || (error instanceof HttpStatusError && error.method === 'CONNECT')) {
    return new ActionError(`cannot reach STS to assume ${subject.role}`, {
      hint: "check the runner's network and its proxy settings (HTTPS_PROXY, NO_PROXY); a re-run is safe",
      cause: error,
    });
  }
  const hint =
    fatalHint(error, subject) ??
    (is(error, 'InvalidIdentityTokenException')
      ? `check that IAM has an OIDC provider for the Teleport proxy ${teleportFqdn} and that ${subject.role} trusts it`
      : 'STS kept failing; re-run the job, and check the AWS status page if it persists');
  return new ActionError(
    `STS refused to assume ${subject.role} with the workload-identity JWT (${describeSts(error)})`,
    { hint },
  );
}

/** The error's code and message; an SDK error's message never holds the token, only its verdict. */
function describeSts(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
