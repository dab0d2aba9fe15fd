import { mkdir, mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as core from '@actions/core';
import { stringify } from 'yaml';
import { childEnv } from './child-env.ts';
import { type Context, privateDir } from './context.ts';
import { ActionError } from './errors.ts';
import { exec, tail } from './exec.ts';
import { checkJwt, JwtError } from './jwt.ts';
import type { Log } from './log.ts';
import type { InstalledTool } from './tools/install.ts';

/** tbot as the action runs it: one `tbot start` in oneshot mode per workload-identity JWT. */

export const STS_AUDIENCE = 'sts.amazonaws.com';
const TBOT_TIMEOUT_MS = 3 * 60_000;
// mtime granularity and clock rounding: a file written by this tbot is never older than this before its start.
const MTIME_SLACK_MS = 1000;

/** A workload-identity JWT for STS, masked, and when it expires. */
export interface Jwt {
  jwt: string;
  expiresAt: Date;
}

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

/**
 * Variables tbot reads that would change the config the action writes (lib/tbot/cli: kingpin envars of the
 * global flags and of `start legacy`, which `tbot start --config` runs): TBOT_CONFIG with --config is refused
 * outright, TELEPORT_BOT_TOKEN replaces the whole onboarding (join method included), TELEPORT_PROXY and
 * TELEPORT_AUTH_SERVER override the address, TBOT_CONFIG_PATH the file, TBOT_DEBUG the logging the action
 * chooses, and TBOT_USE_PROXY_ADDR which proxy address tbot dials.
 */
export const TBOT_OVERRIDES = [
  'TBOT_CONFIG',
  'TBOT_CONFIG_PATH',
  'TBOT_DEBUG',
  'TELEPORT_BOT_TOKEN',
  'TELEPORT_PROXY',
  'TELEPORT_AUTH_SERVER',
  'TBOT_USE_PROXY_ADDR',
] as const;

/** The action's environment without what would override tbot's config, or what tbot must not see. */
export function tbotEnv(base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return childEnv({ base, remove: TBOT_OVERRIDES });
}

type Svid = Jwt | { problem: string };

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

/**
 * Runs tbot once, in a fresh private directory, and returns the workload-identity JWT it wrote. tbot's exit code
 * alone does not decide: a fresh, well-formed JWT does (in oneshot mode tbot can fail after writing it).
 */
export async function mintJwt(
  ctx: Pick<Context, 'inputs' | 'runner' | 'root' | 'signal'>,
  tbot: InstalledTool,
  log: Log,
): Promise<Jwt> {
  const dir = await mkdtemp(join(await privateDir(ctx, 'tbot'), 'run-'));
  const destination = join(dir, 'identity');
  await mkdir(destination, { mode: 0o700 });
  const config = join(dir, 'tbot.yaml');
  await writeFile(config, tbotConfig(ctx, destination), { mode: 0o600, flag: 'wx' });

  const args = ['start', '--config', config, ...(ctx.runner.debug ? ['--debug'] : [])];
  log.info(
    `tbot ${tbot.version}: joining ${ctx.inputs.teleportFqdn} with token '${ctx.inputs.teleportToken}' for workload identity '${ctx.inputs.teleportWorkloadIdentity}'`,
  );
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
    const last = result.stderr.trim().split('\n').at(-1) ?? '';
    log.warning(`tbot ${exit} but wrote a valid workload-identity JWT; continuing (tbot: ${last})`);
  }
  log.info(`workload-identity JWT for ${STS_AUDIENCE}, valid until ${svid.expiresAt.toISOString()}`);
  return svid;
}
