// File protocol between the test world and the stand-in CLIs: fault injection, invocation log, signing keys.
// Node builtins only: this module is bundled into every stand-in and also imported by the world.
import { generateKeyPairSync } from 'node:crypto';
import {
  appendFileSync,
  chmodSync,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';

export type ToolName = 'flux' | 'cosign' | 'tbot';
export type ToolCommand = 'push' | 'pull' | 'sign' | 'verify' | 'start';
export type FaultMode =
  | 'fail'
  | 'hang'
  | 'exit1-after-work'
  | 'expired-jwt'
  | 'bad-aud'
  | 'no-jwt'
  | 'verify-fail';

export interface ToolFault {
  tool: ToolName;
  /** Only this subcommand; absent: any command of the tool that does work. */
  command?: ToolCommand;
  mode: FaultMode;
  /** Invocations left; the fault is dropped when it reaches 0. */
  remaining: number;
  /** Overrides the injected error text (`fail`, `exit1-after-work`, `verify-fail`). */
  message?: string;
  /** `verify-fail` only: 12 (no matching signature, default) or 10 (no signatures found). */
  exitCode?: 10 | 12;
}

export type NewToolFault = Omit<ToolFault, 'remaining'> & { remaining?: number };

export interface CallRecord {
  tool: ToolName;
  /** Arguments after the program name; values of secret flags are replaced by `***`. */
  argv: string[];
  /** Subcommand path, e.g. `push artifact`, `sign`, `start`; '' when none was recognised. */
  command: string;
  time: string;
  pid: number;
  cwd: string;
  /** Names (never values) of the environment variables of interest that were set. */
  env: string[];
  /** tbot: its kingpin-bound variables that took effect (non-empty, flag not given); absent if argv did not parse. */
  configEnv?: string[];
  /** cosign sign: where the identity token comes from, in cosign's order (`none`: no source, so no token). */
  tokenSource?: TokenSource;
}

/** cosign's token sources: the `--identity-token` flag, else the first enabled ambient provider. */
export type TokenSource = 'flag' | 'filesystem' | 'envvar' | 'github-actions' | 'none';

/** Fields a stand-in adds to its call record once it knows them. */
export type CallExtra = Pick<CallRecord, 'configEnv' | 'tokenSource'>;

export const FAULTS_FILE = 'faults.json';
export const CALLS_FILE = 'calls.jsonl';
/** JWKS of the GitHub OIDC issuer; when present the cosign stand-in verifies token signatures (as Fulcio does). */
export const OIDC_JWKS_FILE = 'oidc-jwks.json';
export const FULCIO_KEY_FILE = 'cosign-fulcio.key';
export const FULCIO_PUB_FILE = 'cosign-fulcio.pub';
export const REKOR_KEY_FILE = 'cosign-rekor.key';
export const REKOR_PUB_FILE = 'cosign-rekor.pub';

/** Environment variables whose presence (not value) is logged per call. */
const ENV_OF_INTEREST = [
  'SSL_CERT_FILE',
  'SSL_CERT_DIR',
  'NODE_EXTRA_CA_CERTS',
  'DOCKER_CONFIG',
  'HOME',
  'TELEPORT_PROXY',
  'TELEPORT_AUTH_SERVER',
  'TELEPORT_BOT_TOKEN',
  'TBOT_CONFIG_PATH',
  'TBOT_CONFIG',
  'TBOT_DEBUG',
  'TBOT_USE_PROXY_ADDR',
  'ACTIONS_ID_TOKEN_REQUEST_URL',
  'ACTIONS_ID_TOKEN_REQUEST_TOKEN',
  'SIGSTORE_ID_TOKEN',
  'COSIGN_IDENTITY_TOKEN',
  'COSIGN_YES',
  'COSIGN_EXPERIMENTAL',
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'GITHUB_TOKEN',
  'HTTPS_PROXY',
  'https_proxy',
  'HTTP_PROXY',
  'http_proxy',
  'NO_PROXY',
  'no_proxy',
];

/** Names of interest that are set: the list above, and every COSIGN_* (cosign binds each flag to one). */
function envOfInterest(): string[] {
  const cosign = Object.keys(process.env)
    .filter((name) => name.startsWith('COSIGN_') && !ENV_OF_INTEREST.includes(name))
    .sort();
  return [...ENV_OF_INTEREST.filter((name) => process.env[name] !== undefined), ...cosign];
}

/** Flags whose values are secrets and never reach calls.jsonl. */
const SECRET_FLAGS = ['--identity-token', '--creds', '--registry-password', '--registry-token', '--password'];

export function ensureControlDir(controlDir: string): void {
  mkdirSync(controlDir, { recursive: true });
}

function writeAtomic(path: string, content: string, mode = 0o644): void {
  const tmp = `${path}.${process.pid}.${Date.now()}.tmp`;
  writeFileSync(tmp, content, { mode });
  renameSync(tmp, path);
}

// A mkdir lock, because several stand-ins (and the world) may touch faults.json at once.
function withLock<T>(controlDir: string, fn: () => T): T {
  const lock = join(controlDir, `${FAULTS_FILE}.lock`);
  const deadline = Date.now() + 5000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      try {
        // A holder killed mid-update (e.g. a `hang` stand-in is never inside the lock, but be safe) leaves a stale lock.
        if (Date.now() - statSync(lock).mtimeMs > 3000) rmSync(lock, { recursive: true, force: true });
      } catch {}
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${lock}`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
    }
  }
  try {
    return fn();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

function readFaultsUnlocked(controlDir: string): ToolFault[] {
  const path = join(controlDir, FAULTS_FILE);
  if (!existsSync(path)) return [];
  const text = readFileSync(path, 'utf8').trim();
  if (!text) return [];
  const parsed: unknown = JSON.parse(text);
  if (!Array.isArray(parsed)) throw new Error(`${path}: expected a JSON array`);
  return parsed as ToolFault[];
}

function writeFaultsUnlocked(controlDir: string, faults: ToolFault[]): void {
  writeAtomic(join(controlDir, FAULTS_FILE), `${JSON.stringify(faults, null, 2)}\n`);
}

export function readToolFaults(controlDir: string): ToolFault[] {
  return readFaultsUnlocked(controlDir);
}

/** Queues a fault; `remaining` defaults to 1. Faults are consumed in the order they were added. */
export function addToolFault(controlDir: string, fault: NewToolFault): void {
  ensureControlDir(controlDir);
  const full: ToolFault = { ...fault, remaining: fault.remaining ?? 1 };
  if (!Number.isInteger(full.remaining) || full.remaining < 1)
    throw new Error('fault.remaining must be a positive integer');
  withLock(controlDir, () => writeFaultsUnlocked(controlDir, [...readFaultsUnlocked(controlDir), full]));
}

/** Removes queued faults of one tool, or all of them. */
export function clearToolFaults(controlDir: string, tool?: ToolName): void {
  ensureControlDir(controlDir);
  withLock(controlDir, () =>
    writeFaultsUnlocked(
      controlDir,
      tool ? readFaultsUnlocked(controlDir).filter((f) => f.tool !== tool) : [],
    ),
  );
}

/** Stand-in side: takes (and decrements) the first fault matching this tool and command. */
export function takeToolFault(
  controlDir: string,
  tool: ToolName,
  command: ToolCommand,
): ToolFault | undefined {
  if (!existsSync(join(controlDir, FAULTS_FILE))) return undefined;
  return withLock(controlDir, () => {
    const faults = readFaultsUnlocked(controlDir);
    const index = faults.findIndex(
      (f) => f.tool === tool && (f.command === undefined || f.command === command) && f.remaining > 0,
    );
    if (index < 0) return undefined;
    const fault = faults[index]!;
    const left = { ...fault, remaining: fault.remaining - 1 };
    const next = [...faults];
    if (left.remaining > 0) next[index] = left;
    else next.splice(index, 1);
    writeFaultsUnlocked(controlDir, next);
    return fault;
  });
}

export function redactArgv(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const secret = SECRET_FLAGS.find((f) => arg === f || arg.startsWith(`${f}=`));
    if (!secret) {
      out.push(arg);
    } else if (arg === secret) {
      out.push(arg);
      if (i + 1 < argv.length) {
        out.push('***');
        i++;
      }
    } else {
      out.push(`${secret}=***`);
    }
  }
  return out;
}

/** Stand-in side: appends one line to calls.jsonl. */
export function recordCall(
  controlDir: string,
  tool: ToolName,
  argv: readonly string[],
  command: string,
  extra: CallExtra = {},
): void {
  const record: CallRecord = {
    tool,
    argv: redactArgv(argv),
    command,
    time: new Date().toISOString(),
    pid: process.pid,
    cwd: process.cwd(),
    env: envOfInterest(),
    ...extra,
  };
  // A binary outliving its world must not recreate the removed directory.
  if (!existsSync(controlDir)) return;
  // One write of one line with O_APPEND: concurrent stand-ins do not interleave.
  appendFileSync(join(controlDir, CALLS_FILE), `${JSON.stringify(record)}\n`);
}

export function readCalls(controlDir: string, tool?: ToolName): CallRecord[] {
  const path = join(controlDir, CALLS_FILE);
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as CallRecord)
    .filter((r) => tool === undefined || r.tool === tool);
}

export function clearCalls(controlDir: string): void {
  rmSync(join(controlDir, CALLS_FILE), { force: true });
}

/** Extra time a tool command's own work takes, in ms (the benchmark's latency model), e.g. `{ 'cosign sign': 2000 }`. */
export type ToolDelays = Partial<Record<`${ToolName} ${ToolCommand}`, number>>;
export const DELAYS_FILE = 'delays.json';

export function writeToolDelays(controlDir: string, delays: ToolDelays): void {
  ensureControlDir(controlDir);
  writeAtomic(join(controlDir, DELAYS_FILE), `${JSON.stringify(delays, null, 2)}\n`);
}

/** Stand-in side: the delay for this command, 0 when none is set. */
export function readToolDelay(controlDir: string, tool: ToolName, command: ToolCommand): number {
  const path = join(controlDir, DELAYS_FILE);
  if (!existsSync(path)) return 0;
  const delays = JSON.parse(readFileSync(path, 'utf8')) as ToolDelays;
  return delays[`${tool} ${command}`] ?? 0;
}

/** Lets the cosign stand-in verify OIDC token signatures the way Fulcio does. */
export function writeOidcJwks(controlDir: string, jwks: { keys: readonly object[] }): void {
  ensureControlDir(controlDir);
  writeAtomic(join(controlDir, OIDC_JWKS_FILE), `${JSON.stringify(jwks, null, 2)}\n`);
}

export interface StandinKeys {
  fulcioPrivatePem: string;
  fulcioPublicPem: string;
  rekorPrivatePem: string;
  rekorPublicPem: string;
}

function ensureKeyPair(controlDir: string, keyFile: string, pubFile: string): { priv: string; pub: string } {
  const keyPath = join(controlDir, keyFile);
  const pubPath = join(controlDir, pubFile);
  if (existsSync(keyPath) && existsSync(pubPath)) {
    return { priv: readFileSync(keyPath, 'utf8'), pub: readFileSync(pubPath, 'utf8') };
  }
  const { privateKey, publicKey } = generateKeyPairSync('ec', {
    namedCurve: 'P-256',
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  writeAtomic(keyPath, privateKey, 0o600);
  chmodSync(keyPath, 0o600);
  writeAtomic(pubPath, publicKey);
  return { priv: privateKey, pub: publicKey };
}

/** Creates (once per control dir) the stand-in Fulcio and Rekor ECDSA P-256 keys. */
export function ensureStandinKeys(controlDir: string): StandinKeys {
  ensureControlDir(controlDir);
  const fulcio = ensureKeyPair(controlDir, FULCIO_KEY_FILE, FULCIO_PUB_FILE);
  const rekor = ensureKeyPair(controlDir, REKOR_KEY_FILE, REKOR_PUB_FILE);
  return {
    fulcioPrivatePem: fulcio.priv,
    fulcioPublicPem: fulcio.pub,
    rekorPrivatePem: rekor.priv,
    rekorPublicPem: rekor.pub,
  };
}
