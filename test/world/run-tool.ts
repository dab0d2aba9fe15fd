// Tools run as child processes by the world's self-tests: asynchronously, since the world's servers live in the
// test's own process and must keep answering while a tool runs.
import { type ChildProcess, spawn } from 'node:child_process';

export interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** SIGKILL after this long; default the runner's. */
  timeoutMs?: number;
  cwd?: string;
  onSpawn?: (child: ChildProcess) => void;
}

export interface ToolRunner {
  run(bin: string, args: string[], env: Record<string, string | undefined>, opts?: RunOptions): Promise<Run>;
  /** SIGKILLs every child still running: for the test file's after() hooks, so a failing test leaves none behind. */
  killAll(): void;
}

export function toolRunner(defaultTimeoutMs: number): ToolRunner {
  const children = new Set<ChildProcess>();
  return {
    run: (bin, args, env, opts = {}) =>
      new Promise((resolve, reject) => {
        const child = spawn(bin, args, {
          env: env as NodeJS.ProcessEnv,
          cwd: opts.cwd,
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        children.add(child);
        let stdout = '';
        let stderr = '';
        child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
        child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
        const timer = setTimeout(() => {
          if (child.pid) process.kill(child.pid, 'SIGKILL');
        }, opts.timeoutMs ?? defaultTimeoutMs);
        child.on('error', reject);
        child.on('close', (code, signal) => {
          clearTimeout(timer);
          children.delete(child);
          resolve({ code, signal, stdout, stderr });
        });
        opts.onSpawn?.(child);
      }),
    killAll() {
      for (const child of children) {
        if (child.pid && child.exitCode === null) {
          try {
            process.kill(child.pid, 'SIGKILL');
          } catch {}
        }
      }
    },
  };
}
