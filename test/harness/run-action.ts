import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';

const ROOT = resolve(import.meta.dirname, '../..');

interface ActionYml {
  inputs: Record<string, { default?: string; required?: boolean }>;
}

let actionYml: Promise<ActionYml> | undefined;
export const readActionYml = (): Promise<ActionYml> =>
  (actionYml ??= readFile(join(ROOT, 'action.yml'), 'utf8').then((text) => parse(text) as ActionYml));

export interface RunOptions {
  /** Inputs by their action.yml names; omitted ones take action.yml's defaults, as the runner does. */
  inputs?: Record<string, string>;
  /** Extra environment (world endpoints, GITHUB_REF, …) over the runner's defaults. */
  env?: Record<string, string | undefined>;
  /** The event payload written to GITHUB_EVENT_PATH. */
  event?: unknown;
  /** Reuse a tool cache across runs (a runner's hosted tool cache persists). */
  toolCache?: string;
  /** A scratch directory for RUNNER_TEMP and the runner files; one is made when absent. */
  dir?: string;
  /** Skip the post step. */
  post?: boolean;
  /** Kill main with SIGKILL after this long (a crashed or cancelled job). */
  killAfterMs?: number;
  /**
   * Kill main with SIGKILL as soon as this says so (polled every 20 ms with main's output so far), the way a
   * runner that dies takes the step's tools with it. A killed step's whole process group goes.
   */
  killWhen?: (progress: { stdout: string; stderr: string }) => boolean | Promise<boolean>;
  /** The signal of killAfterMs and killWhen: SIGKILL (default) to main's process group, else to main alone. */
  killSignal?: 'SIGKILL' | 'SIGTERM' | 'SIGINT';
  /** Called between main and post, e.g. to look at what a killed main left on disk. */
  beforePost?: (between: {
    state: Record<string, string>;
    runnerTemp: string;
    githubToken: string;
  }) => Promise<void>;
  timeoutMs?: number;
  /** The node binary that runs the steps, as the runner's runtime does; this process's own by default. */
  node?: string;
  /** Told each step's process as it starts (the benchmark samples its memory and times it). */
  onSpawn?: (script: string, child: ChildProcess) => void;
}

export interface StepResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunResult extends StepResult {
  outputs: Record<string, string>;
  state: Record<string, string>;
  summary: string;
  /** Values the action asked the runner to mask (`::add-mask::`). */
  masks: string[];
  /** `::error …::message` lines and the like. */
  annotations: { level: string; props: string; message: string }[];
  /** The message of the failing `::error::` annotation without file properties, as setFailed prints it. */
  failure: string | undefined;
  post: StepResult | undefined;
  /** The GitHub token the runner handed the action. */
  githubToken: string;
  runnerTemp: string;
  toolCache: string;
}

/** Parses a GITHUB_OUTPUT/GITHUB_STATE file in both of its forms (`k=v` and `k<<DELIM`). */
export function parseCommandFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    const heredoc = /^([^=<]+)<<(.+)$/.exec(line);
    if (heredoc) {
      const [, name, delimiter] = heredoc as unknown as [string, string, string];
      const body: string[] = [];
      for (i++; i < lines.length && lines[i] !== delimiter; i++) body.push(lines[i] ?? '');
      out[name] = body.join('\n');
    } else if (line.includes('=')) {
      const at = line.indexOf('=');
      out[line.slice(0, at)] = line.slice(at + 1);
    }
  }
  return out;
}

const unescapeCommand = (value: string) =>
  value.replace(/%0D/g, '\r').replace(/%0A/g, '\n').replace(/%25/g, '%');

// Process groups of killable steps still alive: killed if the test process exits first, so no tool outlives it.
const liveGroups = new Set<number>();
process.on('exit', () => {
  for (const pid of liveGroups) killGroup(pid);
});

function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {}
}

function step(script: string, env: NodeJS.ProcessEnv, options: RunOptions): Promise<StepResult> {
  return new Promise((resolveStep, reject) => {
    const killable = options.killAfterMs !== undefined || options.killWhen !== undefined;
    // Its own process group, so a kill takes the tools it started too (as the runner's does).
    const child = spawn(options.node ?? process.execPath, [join(ROOT, script)], {
      env,
      cwd: env['GITHUB_WORKSPACE'],
      detached: killable,
    });
    options.onSpawn?.(script, child);
    const pid = child.pid;
    if (killable && pid !== undefined) liveGroups.add(pid);
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => stdout.push(c));
    child.stderr.on('data', (c: Buffer) => stderr.push(c));
    let ended = false;
    const hardKill = () => {
      if (ended) return;
      if (killable && pid !== undefined) killGroup(pid);
      else child.kill('SIGKILL');
    };
    // SIGKILL takes the group; SIGTERM or SIGINT goes to main alone, as a runner cancelling a job sends it.
    const signal = options.killSignal ?? 'SIGKILL';
    const kill = () => {
      if (ended) return;
      if (signal === 'SIGKILL') hardKill();
      else child.kill(signal);
    };
    const killer = options.killAfterMs === undefined ? undefined : setTimeout(kill, options.killAfterMs);
    const watch = options.killWhen;
    const poll = async (): Promise<void> => {
      while (!ended) {
        const progress = {
          stdout: Buffer.concat(stdout).toString('utf8'),
          stderr: Buffer.concat(stderr).toString('utf8'),
        };
        if (await watch?.(progress)) return kill();
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    };
    if (watch) poll().catch(reject);
    const timeout = setTimeout(hardKill, options.timeoutMs ?? 120_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      ended = true;
      clearTimeout(killer);
      clearTimeout(timeout);
      // A killed group's members are gone or going. After a gentler signal, what main left running stays, for
      // the test to see (the exit hook still ends it).
      if (killable && pid !== undefined && signal === 'SIGKILL') {
        killGroup(pid);
        liveGroups.delete(pid);
      }
      resolveStep({
        code,
        signal,
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
      });
    });
  });
}

/** Runs `dist/index.js` and then `dist/post.js` the way a GitHub runner does. */
export async function runAction(options: RunOptions = {}): Promise<RunResult> {
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'bake-run-')));
  const files = join(dir, 'runner');
  const runnerTemp = join(dir, 'temp');
  const toolCache = options.toolCache ?? join(dir, 'toolcache');
  const workspace = join(dir, 'workspace');
  await Promise.all([files, runnerTemp, toolCache, workspace].map((d) => mkdir(d, { recursive: true })));
  const paths = {
    GITHUB_OUTPUT: join(files, 'output'),
    GITHUB_STATE: join(files, 'state'),
    GITHUB_STEP_SUMMARY: join(files, 'summary'),
    GITHUB_ENV: join(files, 'env'),
    GITHUB_PATH: join(files, 'path'),
    GITHUB_EVENT_PATH: join(files, 'event.json'),
  };
  await Promise.all(Object.values(paths).map((p) => writeFile(p, '')));
  await writeFile(paths.GITHUB_EVENT_PATH, JSON.stringify(options.event ?? {}));

  const githubToken = `ghs_${randomBytes(18).toString('hex')}`;
  const inputs: Record<string, string> = {};
  for (const [name, spec] of Object.entries((await readActionYml()).inputs)) {
    const given = options.inputs?.[name];
    const value = given ?? (spec.default ?? '').replace('${{ github.token }}', githubToken);
    inputs[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] = value;
  }
  for (const name of Object.keys(options.inputs ?? {})) {
    if (!(name in (await readActionYml()).inputs)) throw new Error(`test passes unknown input '${name}'`);
  }

  const env: NodeJS.ProcessEnv = {
    PATH: process.env['PATH'],
    // The test run's mark (scripts/test.mjs), so whatever the action leaves running is found afterwards.
    ...(process.env['BAKE_TEST_RUN'] ? { BAKE_TEST_RUN: process.env['BAKE_TEST_RUN'] } : {}),
    HOME: process.env['HOME'],
    LANG: 'C.UTF-8',
    CI: 'true',
    GITHUB_ACTIONS: 'true',
    RUNNER_OS: 'Linux',
    RUNNER_ARCH: 'X64',
    RUNNER_TEMP: runnerTemp,
    RUNNER_TOOL_CACHE: toolCache,
    GITHUB_WORKSPACE: workspace,
    GITHUB_REPOSITORY: 'maestra-io/sample-service',
    GITHUB_REPOSITORY_OWNER: 'maestra-io',
    GITHUB_SERVER_URL: 'https://github.com',
    GITHUB_API_URL: 'https://api.github.com',
    GITHUB_REF: 'refs/tags/1.2.3',
    GITHUB_REF_NAME: '1.2.3',
    GITHUB_REF_TYPE: 'tag',
    GITHUB_EVENT_NAME: 'push',
    GITHUB_SHA: '0000000000000000000000000000000000000000',
    GITHUB_RUN_ID: '4242',
    GITHUB_RUN_ATTEMPT: '1',
    GITHUB_WORKFLOW_REF: 'maestra-io/sample-service/.github/workflows/release.yml@refs/tags/1.2.3',
    ...paths,
    ...inputs,
  };
  for (const [key, value] of Object.entries(options.env ?? {})) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }

  const main = await step('dist/index.js', env, options);
  const outputs = parseCommandFile(await readFile(paths.GITHUB_OUTPUT, 'utf8'));
  const state = parseCommandFile(await readFile(paths.GITHUB_STATE, 'utf8'));
  const summary = await readFile(paths.GITHUB_STEP_SUMMARY, 'utf8');

  await options.beforePost?.({ state, runnerTemp, githubToken });
  let post: StepResult | undefined;
  if (options.post !== false) {
    const postEnv = { ...env };
    for (const [name, value] of Object.entries(state)) postEnv[`STATE_${name}`] = value;
    // The runner runs post after a killed main too; the kill was main's alone.
    const { killAfterMs: _a, killWhen: _w, killSignal: _s, ...postOptions } = options;
    post = await step('dist/post.js', postEnv, postOptions);
  }

  const masks: string[] = [];
  const annotations: RunResult['annotations'] = [];
  for (const line of main.stdout.split('\n')) {
    const mask = /^::add-mask::(.*)$/.exec(line);
    if (mask) masks.push(unescapeCommand(mask[1] ?? ''));
    const annotation = /^::(error|warning|notice)( [^:]*)?::(.*)$/.exec(line);
    if (annotation) {
      annotations.push({
        level: annotation[1] ?? '',
        props: annotation[2]?.trim() ?? '',
        message: unescapeCommand(annotation[3] ?? ''),
      });
    }
  }
  const failures = annotations.filter((a) => a.level === 'error' && a.props === '');
  return {
    ...main,
    outputs,
    state,
    summary,
    masks,
    annotations,
    failure: failures.at(-1)?.message,
    post,
    githubToken,
    runnerTemp,
    toolCache,
  };
}

/** Every secret found where a secret must never be: output (outside mask commands), summary, outputs. */
export function leakedSecrets(result: RunResult, secrets: readonly string[]): string[] {
  const visible = [
    result.stdout
      .split('\n')
      .filter((line) => !line.startsWith('::add-mask::'))
      .join('\n'),
    result.stderr,
    result.summary,
    JSON.stringify(result.outputs),
    result.post?.stdout ?? '',
    result.post?.stderr ?? '',
  ].join('\n');
  return secrets.filter((secret) => secret.length >= 8 && visible.includes(secret));
}
