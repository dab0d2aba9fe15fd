import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as core from '@actions/core';
import type { GetAuthorizationTokenCommandOutput } from '@aws-sdk/client-ecr';
import { ecrClient, ecrRetry, ecrSdk } from '../aws.ts';
import { childEnv, OIDC_REQUEST } from '../child-env.ts';
import { type Context, need, privateDir } from '../context.ts';
import { ActionError } from '../errors.ts';
import type { Log } from '../log.ts';
import { remoteOnly, stage } from '../pipeline.ts';
import { retry } from '../retry.ts';

export interface Login {
  /** The private DOCKER_CONFIG directory (0700) holding config.json (0600); the post step removes it. */
  dockerConfig: string;
  /** base64 `AWS:<password>`, the value of an `Authorization: Basic` header for the registry. */
  authorization: string;
}

declare module '../context.ts' {
  interface Results {
    login: Login;
  }
}

/**
 * The environment flux and cosign run with: the action's own (SSL_CERT_FILE and the OIDC request
 * variables pass through) plus DOCKER_CONFIG, without AWS credentials or the action's inputs (the token).
 */
export function toolEnv(ctx: Context): NodeJS.ProcessEnv {
  // flux and cosign authenticate through DOCKER_CONFIG only; cosign gets its one OIDC token separately.
  return childEnv({ remove: OIDC_REQUEST, set: { DOCKER_CONFIG: need(ctx, 'login').dockerConfig } });
}

/** Splits ECR's base64 `AWS:<password>` token, or says why it cannot. */
export function parseAuthorizationToken(token: string): { user: string; password: string } {
  const decoded = Buffer.from(token, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0 || colon === decoded.length - 1) {
    throw new ActionError('ECR returned an authorization token that is not base64 user:password');
  }
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** Writes `config.json` for the registry host into a fresh private directory; returns that directory. */
export async function writeDockerConfig(ctx: Pick<Context, 'root'>, registry: string, auth: string) {
  const dir = await privateDir(ctx, 'docker');
  const config = { auths: { [registry]: { auth } } };
  // 'wx': a config.json already there was not written by this run, so refuse to trust or reuse it.
  await writeFile(join(dir, 'config.json'), `${JSON.stringify(config, null, 2)}\n`, {
    mode: 0o600,
    flag: 'wx',
  });
  return dir;
}

/** ECR's registry authorization in `region` (GetAuthorizationToken, retried): base64 `AWS:<password>`, masked at once. */
export async function ecrAuthorization(ctx: Context, region: string, log: Log): Promise<string> {
  const { GetAuthorizationTokenCommand } = await ecrSdk();
  const client = await ecrClient(ctx, region);
  let response: GetAuthorizationTokenCommandOutput;
  try {
    response = await retry(
      () => client.send(new GetAuthorizationTokenCommand({}), { abortSignal: ctx.signal }),
      ecrRetry(ctx.signal, log, `GetAuthorizationToken in ${region}`, 4),
    );
  } catch (error) {
    throw new ActionError(`ECR GetAuthorizationToken failed in ${region}`, {
      hint: `check that the role allows ecr:GetAuthorizationToken and that ECR is reachable in ${region}`,
      cause: error,
    });
  } finally {
    client.destroy();
  }
  const token = response.authorizationData?.[0]?.authorizationToken;
  if (!token) throw new ActionError(`ECR GetAuthorizationToken in ${region} returned no token`);
  core.setSecret(token);
  const { password } = parseAuthorizationToken(token);
  core.setSecret(password);
  return token;
}

export const login = stage({
  name: 'login',
  needs: ['assume'],
  skip: remoteOnly,
  async run(ctx, log) {
    const region = ctx.inputs.awsRegion;
    const registry = ctx.inputs.ecrRegistry;
    const token = await ecrAuthorization(ctx, region, log);
    const dockerConfig = await writeDockerConfig(ctx, registry, token);
    log.info(
      `logged in to ${registry} (${region}); credentials for the tools are in a private DOCKER_CONFIG`,
    );
    ctx.facts.push({ label: 'registry', value: `logged in to <code>${registry}</code>` });
    return { dockerConfig, authorization: token };
  },
});
