// Makes sure the real programs the world runs (registry, openssl, git) exist, installing them where we may.
import { execFile } from 'node:child_process';
import { access, constants, readFile } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const REGISTRY_BIN = '/usr/bin/docker-registry';

interface Prereq {
  /** Absolute path or a name looked up on PATH. */
  readonly program: string;
  /** The Debian package that ships it. */
  readonly pkg: string;
}

const PREREQS: readonly Prereq[] = [
  { program: REGISTRY_BIN, pkg: 'docker-registry' },
  { program: 'openssl', pkg: 'openssl' },
  { program: 'git', pkg: 'git' },
];

async function isExecutable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

async function onPath(program: string): Promise<boolean> {
  if (program.includes('/')) return isExecutable(program);
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    if (dir && (await isExecutable(join(dir, program)))) return true;
  }
  return false;
}

async function isDebianLike(): Promise<boolean> {
  try {
    const osRelease = await readFile('/etc/os-release', 'utf8');
    return /^(ID|ID_LIKE)=.*\b(debian|ubuntu)\b/m.test(osRelease) && (await onPath('apt-get'));
  } catch {
    return false;
  }
}

let pending: Promise<void> | undefined;

/** Resolves when every prerequisite is installed; installs missing ones with apt-get as root on Debian/Ubuntu. */
export function ensurePrereqs(): Promise<void> {
  pending ??= check().catch((error: unknown) => {
    pending = undefined; // a later call may succeed once the user installed the packages
    throw error;
  });
  return pending;
}

async function check(): Promise<void> {
  const present = await Promise.all(PREREQS.map((p) => onPath(p.program)));
  const missing = PREREQS.filter((_, i) => !present[i]).map((p) => p.pkg);
  if (missing.length === 0) return;
  const command = `apt-get install -y ${missing.join(' ')}`;
  const root = process.getuid?.() === 0;
  if (!root || !(await isDebianLike())) {
    throw new Error(
      `The test world needs ${missing.join(', ')}, which ${missing.length === 1 ? 'is' : 'are'} not installed. Install with:\n  sudo apt-get update && sudo ${command}`,
    );
  }
  process.stderr.write(`test world: installing ${missing.join(' ')} with apt-get\n`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  try {
    await run('apt-get', ['update'], { env, maxBuffer: 64 << 20 });
    await run('apt-get', ['install', '-y', '--no-install-recommends', ...missing], {
      env,
      maxBuffer: 64 << 20,
    });
  } catch (error) {
    throw new Error(
      `Installing ${missing.join(' ')} failed (${String(error)}). Install by hand with:\n  ${command}`,
    );
  }
  const after = await Promise.all(PREREQS.map((p) => onPath(p.program)));
  const still = PREREQS.filter((_, i) => !after[i]).map((p) => p.program);
  if (still.length > 0)
    throw new Error(`Still missing after apt-get: ${still.join(', ')}. Install with:\n  ${command}`);
}
