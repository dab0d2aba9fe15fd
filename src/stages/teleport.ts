import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as core from '@actions/core';
import { stringify } from 'yaml';
import { preloadAwsSdk } from '../aws.ts';
import { childEnv } from '../child-env.ts';
import { type Context, code, need, privateDir } from '../context.ts';
import { ActionError } from '../errors.ts';
import { exec, tail } from '../exec.ts';
import { checkJwt, JwtError } from '../jwt.ts';
import { remoteOnly, stage } from '../pipeline.ts';

declare module '../context.ts' {
  interface Results {
    teleport: { jwt: string; expiresAt: Date };
  }
}

export const STS_AUDIENCE = 'sts.amazonaws.com';
const TBOT_TIMEOUT_MS = 3 * 60_000;
// mtime granularity and clock rounding: a file written by this tbot is never older than this before its start.
const MTIME_SLACK_MS = 1000;

/** tbot's v2 config: join with the runner's GitHub OIDC token once, keep nothing on disk but the JWT. */
export function tbotConfig(ctx: Pick<Context, 'inputs'>, destination: string): string {
  return stringify({
    version: 'v2',
    proxy_server: ctx.inputs.teleportFqdn,
    oneshot: true,
    onboarding: { join_method: 'github', token: ctx.inputs.teleportToken },
    storage: { type: 'memory' },
    services: [
      {
        type: 'workload-identity-jwt',
        destination: { type: 'directory', path: destination },
        selector: { name: ctx.inputs.teleportWorkloadIdentity },
        audiences: [STS_AUDIENCE],
      },
    ],
  });
}

/** The action's environment without what tbot rejects (both proxy variables set) or must not see. */
export function tbotEnv(base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return childEnv({ base, remove: ['TELEPORT_PROXY', 'TELEPORT_AUTH_SERVER'] });
}

type Svid = { jwt: string; expiresAt: Date } | { problem: string };

/** The JWT tbot wrote during this run, masked as soon as it is read, or why there is none. */
export async function readSvid(path: string, startedMs: number, now = new Date()): Promise<Svid> {
  let modified: number;
  try {
    modified = (await stat(path)).mtimeMs;
  } catch {
    return { problem: `tbot wrote no ${path}` };
  }
  if (modified < startedMs - MTIME_SLACK_MS) return { problem: `${path} is older than this tbot run` };
  const jwt = (await readFile(path, 'utf8')).trim();
  if (jwt === '') return { problem: `${path} is empty` };
  core.setSecret(jwt);
  try {
    return { jwt, expiresAt: checkJwt(jwt, { audience: STS_AUDIENCE, now }).expiresAt };
  } catch (error) {
    if (error instanceof JwtError) return { problem: `the JWT in ${path} is unusable: ${error.message}` };
    throw error;
  }
}

export const teleport = stage({
  name: 'teleport',
  needs: ['install-tbot'],
  skip: remoteOnly,
  async run(ctx, log) {
    const tbot = need(ctx, 'install-tbot');
    const dir = await privateDir(ctx, 'tbot');
    const destination = await privateDir(ctx, 'tbot/identity');
    const config = join(dir, 'tbot.yaml');
    await writeFile(config, tbotConfig(ctx, destination), { mode: 0o600, flag: 'wx' });

    const args = ['start', '--config', config, ...(ctx.runner.debug ? ['--debug'] : [])];
    log.info(
      `tbot ${tbot.version}: joining ${ctx.inputs.teleportFqdn} with token '${ctx.inputs.teleportToken}' for workload identity '${ctx.inputs.teleportWorkloadIdentity}'`,
    );
    // assume comes next and needs the SDK: it is compiled while tbot runs.
    preloadAwsSdk();
    const started = Date.now();
    const result = await exec(tbot.path, args, {
      cwd: dir,
      env: tbotEnv(),
      signal: ctx.signal,
      timeoutMs: TBOT_TIMEOUT_MS,
    });
    if (ctx.runner.debug) log.debug(`tbot stderr:\n${tail(result.stderr, 50)}`);
    const exit = result.timedOut ? `was stopped after ${TBOT_TIMEOUT_MS / 1000} s` : `exited ${result.code}`;

    const svid = await readSvid(join(destination, 'jwt_svid'), started);
    if ('problem' in svid) {
      throw new ActionError(
        `tbot did not produce a usable workload-identity JWT: ${svid.problem} (tbot ${exit}); tbot's stderr:\n${tail(result.stderr)}\n`,
        {
          hint: `check that join token '${ctx.inputs.teleportToken}' (join method github) allows this repository and workflow, and that workload identity '${ctx.inputs.teleportWorkloadIdentity}' exists and may be issued to the bot`,
        },
      );
    }
    if (result.code !== 0 || result.timedOut) {
      // In oneshot mode tbot can fail after writing the JWT (its heartbeat service); the file decides.
      const last = result.stderr.trim().split('\n').at(-1) ?? '';
      log.warning(`tbot ${exit} but wrote a valid workload-identity JWT; continuing (tbot: ${last})`);
    }
    log.info(`workload-identity JWT for ${STS_AUDIENCE}, valid until ${svid.expiresAt.toISOString()}`);
    ctx.facts.push({
      label: 'workload identity',
      value: [code(ctx.inputs.teleportWorkloadIdentity), ' via ', code(ctx.inputs.teleportFqdn)],
    });
    return { jwt: svid.jwt, expiresAt: svid.expiresAt };
  },
});
