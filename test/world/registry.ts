// Runs the real CNCF distribution registry (docker-registry) on a loopback port, one per region.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { constants } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './loopback.ts';
import { REGISTRY_BIN } from './prereqs.ts';

export interface RegistryProcess {
  readonly region: string;
  /** `http://127.0.0.1:<port>`: the raw registry, no auth, no ECR rules. */
  readonly url: string;
  readonly host: string;
  readonly pid: number;
  /** Filesystem storage root (`<root>/docker/registry/v2/...`). */
  readonly storageRoot: string;
  stop(): Promise<void>;
}

// Registries still running: killed by pid if the test process exits without stop().
const live = new Map<number, ChildProcess>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const pid of live.keys()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });
  // A signal would end the process without 'exit'; turn it into an exit unless someone else handles it.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      if (process.listenerCount(signal) === 1) process.exit(128 + (constants.signals[signal] ?? 0));
    });
  }
}

/** Pids of registries this process started and has not stopped yet. */
export function liveRegistryPids(): number[] {
  return [...live.keys()];
}

async function answers(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/v2/`, { signal: AbortSignal.timeout(500) });
    await res.arrayBuffer();
    return res.status === 200;
  } catch {
    return false;
  }
}

export async function startRegistry(dir: string, region: string): Promise<RegistryProcess> {
  installExitHook();
  const home = join(dir, `registry-${region}`);
  const storageRoot = join(home, 'storage');
  await mkdir(storageRoot, { recursive: true });
  let lastError = '';
  // The free port is picked before docker-registry binds it; another process may win that race, so retry.
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const config = join(home, 'config.yml');
    await writeFile(
      config,
      [
        'version: 0.1',
        'log:',
        '  level: error',
        '  accesslog:',
        '    disabled: true',
        'storage:',
        '  filesystem:',
        `    rootdirectory: ${JSON.stringify(storageRoot)}`,
        '  delete:',
        '    enabled: true',
        '  maintenance:',
        '    uploadpurging:',
        '      enabled: false',
        'http:',
        `  addr: 127.0.0.1:${port}`,
        `  secret: ${JSON.stringify(`test-world-${region}-${port}`)}`,
        '',
      ].join('\n'),
    );
    const child = spawn(REGISTRY_BIN, ['serve', config], { stdio: ['ignore', 'ignore', 'pipe'] });
    const pid = child.pid;
    if (pid === undefined) {
      await new Promise((resolve) => child.once('error', resolve));
      throw new Error(`could not start ${REGISTRY_BIN}`);
    }
    live.set(pid, child);
    let stderr = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-4000);
    });
    let exited = false;
    const exit = new Promise<void>((resolve) =>
      child.once('exit', () => {
        exited = true;
        live.delete(pid);
        resolve();
      }),
    );
    const url = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 10_000;
    while (!exited && Date.now() < deadline && !(await answers(url))) await sleep(10);
    if (!exited && Date.now() < deadline) {
      let stopping: Promise<void> | undefined;
      return {
        region,
        url,
        host: `127.0.0.1:${port}`,
        pid,
        storageRoot,
        stop() {
          stopping ??= (async () => {
            if (exited) return;
            process.kill(pid, 'SIGTERM');
            let timer: NodeJS.Timeout | undefined;
            const killed = await Promise.race([
              exit.then(() => true),
              new Promise<boolean>((resolve) => {
                timer = setTimeout(() => resolve(false), 2_000);
              }),
            ]);
            clearTimeout(timer);
            if (!killed) {
              process.kill(pid, 'SIGKILL');
              await exit;
            }
          })();
          return stopping;
        },
      };
    }
    if (!exited) {
      process.kill(pid, 'SIGKILL');
      await exit;
    }
    lastError = stderr.trim();
    if (!/address already in use/i.test(stderr)) break;
  }
  throw new Error(`docker-registry for ${region} did not start: ${lastError || 'no output'}`);
}
