// go-containerregistry's default keychain: the docker CLI config file ($DOCKER_CONFIG/config.json or ~/.docker/config.json).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export interface Credentials {
  username: string;
  password: string;
  /** An OAuth2 refresh token (`identitytoken`), used by Bearer token exchange. */
  identityToken?: string;
  /** A registry token sent as-is (`flux --creds TOKEN` without a colon). */
  registryToken?: string;
}

interface AuthEntry {
  auth?: string;
  username?: string;
  password?: string;
  identitytoken?: string;
}

interface DockerConfig {
  auths?: Record<string, AuthEntry>;
  credsStore?: string;
  credHelpers?: Record<string, string>;
}

export function dockerConfigPath(): string {
  const dir = process.env['DOCKER_CONFIG'] || join(process.env['HOME'] || homedir(), '.docker');
  return join(dir, 'config.json');
}

/** docker/cli's ConvertToHostname: `https://host:port/v1/` → `host:port`. */
function toHostname(key: string): string {
  let s = key;
  if (s.startsWith('http://')) s = s.slice(7);
  else if (s.startsWith('https://')) s = s.slice(8);
  return s.split('/')[0] ?? s;
}

function fromHelper(helper: string, registry: string): Credentials | undefined {
  const bin = `docker-credential-${helper}`;
  const res = spawnSync(bin, ['get'], { input: registry, encoding: 'utf8' });
  if (res.error) {
    throw new Error(
      `error getting credentials - err: exec: "${bin}": executable file not found in $PATH, out: \`\``,
    );
  }
  if (res.status !== 0) {
    if (/credentials not found/i.test(res.stdout)) return undefined;
    throw new Error(
      `error getting credentials - err: exit status ${res.status}, out: \`${res.stdout.trim()}\``,
    );
  }
  const parsed = JSON.parse(res.stdout) as { Username?: string; Secret?: string };
  if (parsed.Username === '<token>')
    return { username: '', password: '', identityToken: parsed.Secret ?? '' };
  return { username: parsed.Username ?? '', password: parsed.Secret ?? '' };
}

/** Credentials for `registry` (host[:port]); undefined means anonymous. Throws on a malformed config file. */
export function resolveCredentials(registry: string): Credentials | undefined {
  const path = dockerConfigPath();
  if (!existsSync(path)) return undefined;
  let config: DockerConfig;
  try {
    config = JSON.parse(readFileSync(path, 'utf8')) as DockerConfig;
  } catch (error) {
    throw new Error(`loading config file ${path}: ${(error as Error).message}`);
  }
  const helper = config.credHelpers?.[registry] ?? config.credsStore;
  if (helper) {
    const creds = fromHelper(helper, registry);
    if (creds) return creds;
  }
  const auths = config.auths ?? {};
  const key = registry in auths ? registry : Object.keys(auths).find((k) => toHostname(k) === registry);
  if (key === undefined) return undefined;
  const entry = auths[key] ?? {};
  let username = entry.username ?? '';
  let password = entry.password ?? '';
  if (entry.auth) {
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) throw new Error(`${path}: invalid auth configuration file`);
    username = decoded.slice(0, colon);
    password = decoded.slice(colon + 1);
  }
  if (!username && !password && !entry.identitytoken) return undefined;
  return entry.identitytoken
    ? { username, password, identityToken: entry.identitytoken }
    : { username, password };
}
