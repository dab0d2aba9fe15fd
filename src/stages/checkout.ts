import { lstat, realpath, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { childEnv, OIDC_REQUEST } from '../child-env.ts';
import { type Context, code, need, privateDir } from '../context.ts';
import { ActionError } from '../errors.ts';
import { exec, tail } from '../exec.ts';
import { stage } from '../pipeline.ts';

export interface Checkout {
  /** The checked-out tree. */
  root: string;
  /** The commit the tag points at (dereferenced). */
  commit: string;
  /** `bake-path` resolved inside `root`. */
  bakeDir: string;
}

declare module '../context.ts' {
  interface Results {
    checkout: Checkout;
  }
}

const GIT_TIMEOUT_MS = 5 * 60_000;

async function git(args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv; signal: AbortSignal }) {
  const result = await exec('git', args, { ...options, timeoutMs: GIT_TIMEOUT_MS });
  if (result.code !== 0) {
    throw new ActionError(`git ${args[0]} failed (exit ${result.code}):\n${tail(result.stderr)}`);
  }
  return result.stdout.trim();
}

/** The token travels as an HTTP header set through git's environment: never argv, URL or disk. */
export function gitAuthEnv(serverUrl: string, token: string): NodeJS.ProcessEnv {
  const env = childEnv({ remove: OIDC_REQUEST, set: { GIT_TERMINAL_PROMPT: '0', GIT_CONFIG_COUNT: '0' } });
  if (token === '' || !/^https?:/.test(serverUrl)) return env;
  const basic = Buffer.from(`x-access-token:${token}`).toString('base64');
  return {
    ...env,
    GIT_CONFIG_COUNT: '1',
    GIT_CONFIG_KEY_0: `http.${serverUrl}/.extraheader`,
    GIT_CONFIG_VALUE_0: `AUTHORIZATION: basic ${basic}`,
  };
}

async function fetchTag(ctx: Context, version: string): Promise<string> {
  const dir = await privateDir(ctx, 'tree');
  const url = `${ctx.runner.serverUrl}/${ctx.runner.repository}`;
  const signal = ctx.signal;
  await git(['init', '-q', dir], { cwd: ctx.root, signal });
  try {
    await git(['fetch', '-q', '--depth=1', '--no-tags', url, `+refs/tags/${version}:refs/tags/${version}`], {
      cwd: dir,
      env: gitAuthEnv(ctx.runner.serverUrl, ctx.inputs.githubToken),
      signal,
    });
  } catch (error) {
    throw new ActionError(`cannot fetch tag ${version} from ${url}`, {
      hint: 'check that the tag is pushed and that the job has `permissions: contents: read`',
      cause: error,
    });
  }
  await git(['-c', 'advice.detachedHead=false', 'checkout', '-q', `refs/tags/${version}`], {
    cwd: dir,
    signal,
  });
  return dir;
}

/** Resolves `bake-path` inside the tree, refusing anything that leaves it (symlinks included). */
export async function resolveBakeDir(root: string, bakePath: string): Promise<string> {
  const candidate = join(root, bakePath);
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    await lstat(candidate);
    info = await stat(candidate);
  } catch {
    throw new ActionError(`bake-path '${bakePath}' does not exist in the checked-out tree`, {
      hint: 'set `bake-path` to the directory that holds the kustomization',
    });
  }
  const real = await realpath(candidate);
  const realRoot = await realpath(root);
  const inside = relative(realRoot, real);
  if (inside.startsWith(`..${sep}`) || inside === '..' || inside.startsWith(sep)) {
    throw new ActionError(`bake-path '${bakePath}' leads outside the checked-out tree (to ${real})`, {
      hint: 'point `bake-path` at a real directory inside the repository',
    });
  }
  if (!info.isDirectory()) {
    throw new ActionError(`bake-path '${bakePath}' is not a directory`);
  }
  return real;
}

export const checkout = stage({
  name: 'checkout',
  needs: ['resolve'],
  async run(ctx, log) {
    const { version } = need(ctx, 'resolve');
    const root = ctx.inputs.checkout ? await fetchTag(ctx, version) : ctx.runner.workspace;
    let commit: string;
    try {
      commit = await git(['rev-parse', '--verify', 'HEAD^{commit}'], { cwd: root, signal: ctx.signal });
    } catch (error) {
      throw new ActionError(`${root} is not a git work tree with a commit`, {
        hint: 'with `checkout: false`, check the repository out in an earlier step',
        cause: error,
      });
    }
    const bakeDir = await resolveBakeDir(root, ctx.inputs.bakePath);
    log.info(`${ctx.inputs.checkout ? `fetched tag ${version}` : 'using the workspace'} at commit ${commit}`);
    ctx.facts.push({ label: 'commit', value: code(commit) });
    return { root, commit, bakeDir };
  },
});
