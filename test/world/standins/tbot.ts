// Stand-in for tbot (gravitational/teleport Machine ID): `tbot start [legacy] -c CONFIG` with a v2 config holding
// workload-identity-jwt services, GitHub join, and `tbot version`. It fetches the runner's OIDC token itself and asks
// the world's Teleport proxy (POST /webapi/standin/join) for each JWT SVID, then writes DIR/jwt_svid.
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isMap, isSeq, LineCounter, parseDocument, type YAMLMap } from 'yaml';
import type { ToolFault } from './control.ts';
import {
  FlagError,
  type FlagSpec,
  HelpRequested,
  type KingpinParsed,
  parseKingpin,
  bool as pbool,
  str,
} from './lib/flags.ts';
import { DeadlineError, request } from './lib/http.ts';
import { githubIdToken } from './lib/oidc.ts';
import { baked, checkArch, exitAfterFlush, hangForever, logCall, sleep, takeFault } from './lib/runtime.ts';

const JOIN_AUDIENCE = 'teleport.cluster.local';
const SUPPORTED_JOIN_METHODS = [
  'azure',
  'azure_devops',
  'bitbucket',
  'bound_keypair',
  'circleci',
  'env0',
  'gcp',
  'github',
  'gitlab',
  'iam',
  'kubernetes',
  'oracle',
  'spacelift',
  'terraform_cloud',
  'token',
  'tpm',
];
/** Service types tbot knows; only workload-identity-jwt is emulated. */
const KNOWN_SERVICES = [
  'identity',
  'application',
  'database',
  'kubernetes',
  'kubernetes/v2',
  'kubernetes/argo-cd',
  'ssh-host',
  'spiffe-svid',
  'application-tunnel',
  'database-tunnel',
  'ssh-multiplexer',
  'spiffe-workload-api',
  'workload-identity-x509',
  'workload-identity-jwt',
  'workload-identity-api',
  'workload-identity-aws-roles-anywhere',
  'application-proxy',
  'example',
];
const BOT_FIELDS = [
  'version',
  'onboarding',
  'storage',
  'outputs',
  'services',
  'debug',
  'auth_server',
  'proxy_server',
  'certificate_ttl',
  'renewal_interval',
  'credential_ttl',
  'oneshot',
  'fips',
  'diag_addr',
  'insecure',
  'join_uri',
];
const ONBOARDING_FIELDS = [
  'token',
  'ca_path',
  'ca_pins',
  'join_method',
  'azure',
  'gitlab',
  'terraform',
  'bound_keypair',
];
const JWT_SERVICE_FIELDS = [
  'type',
  'name',
  'selector',
  'destination',
  'audiences',
  'credential_ttl',
  'renewal_interval',
];
const DIRECTORY_FIELDS = ['type', 'path', 'symlinks', 'acls', 'readers'];

class TbotError extends Error {}

// ---- logging in tbot's text (or json) format ----

let logFormat = 'text';
let debugOn = false;

function logLine(
  level: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR',
  component: string,
  message: string,
  attrs: Record<string, unknown> = {},
): void {
  if (level === 'DEBUG' && !debugOn) return;
  const time = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
  if (logFormat === 'json') {
    process.stderr.write(
      `${JSON.stringify({ timestamp: time, level: level.toLowerCase(), component, message, ...attrs })}\n`,
    );
    return;
  }
  const comp = `[${component.toUpperCase()}]`.padEnd(12);
  const kv = Object.entries(attrs)
    .map(([k, v]) => `${k}:${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
  process.stderr.write(`${time} ${level.padEnd(4)} ${comp} ${message}${kv ? ` ${kv}` : ''}\n`);
}

// ---- flags ----

const GLOBAL_FLAGS: FlagSpec[] = [
  { name: 'debug', short: 'd', kind: 'bool', envVar: 'TBOT_DEBUG' },
  { name: 'config', short: 'c', kind: 'string', envVar: 'TBOT_CONFIG_PATH' },
  { name: 'config-string', kind: 'string', envVar: 'TBOT_CONFIG' },
  { name: 'fips', kind: 'bool' },
  { name: 'trace', kind: 'bool' },
  { name: 'trace-exporter', kind: 'string' },
  { name: 'insecure', kind: 'bool' },
  {
    name: 'log-format',
    kind: 'string',
    default: 'text',
    check: (v) => {
      if (v !== 'json' && v !== 'text') throw new Error(`enum value must be one of json,text, got '${v}'`);
    },
  },
];

const START_FLAGS: FlagSpec[] = [
  { name: 'auth-server', short: 'a', kind: 'string', envVar: 'TELEPORT_AUTH_SERVER' },
  { name: 'proxy-server', kind: 'string', envVar: 'TELEPORT_PROXY' },
  { name: 'destination-dir', kind: 'string' },
  { name: 'data-dir', kind: 'string' },
  { name: 'token', kind: 'string', envVar: 'TELEPORT_BOT_TOKEN' },
  { name: 'ca-pin', kind: 'stringArray' },
  { name: 'certificate-ttl', kind: 'duration' },
  { name: 'renewal-interval', kind: 'duration' },
  {
    name: 'join-method',
    kind: 'string',
    check: (v) => {
      if (!SUPPORTED_JOIN_METHODS.includes(v)) {
        throw new Error(`enum value must be one of ${SUPPORTED_JOIN_METHODS.join(',')}, got '${v}'`);
      }
    },
  },
  { name: 'oneshot', kind: 'bool' },
  { name: 'diag-addr', kind: 'string' },
];

const COMMANDS: Record<string, Record<string, unknown>> = {
  start: Object.fromEntries(
    [
      'legacy',
      'identity',
      'database',
      'kubernetes',
      'kubernetes/v2',
      'application',
      'application-tunnel',
      'database-tunnel',
      'spiffe-svid',
      'workload-identity-x509',
      'workload-identity-jwt',
      'workload-identity-api',
      'ssh-multiplexer',
    ].map((c) => [c, {}]),
  ),
  configure: { legacy: {} },
  version: {},
  init: {},
  db: {},
  proxy: {},
  migrate: {},
  install: {},
  'copy-binaries': {},
  kube: { credentials: {} },
  keypair: { create: {} },
  help: {},
};

// ---- config ----

interface JwtService {
  selector: string;
  path: string;
  audiences: string[];
}

interface BotConfig {
  proxyServer: string;
  authServer: string;
  oneshot: boolean;
  debug: boolean;
  joinMethod: string;
  token: string;
  services: JwtService[];
}

function fieldErrors(map: YAMLMap, allowed: readonly string[], type: string, lines: LineCounter): string[] {
  const out: string[] = [];
  for (const item of map.items) {
    const key = String((item.key as { value?: unknown })?.value ?? item.key);
    if (!allowed.includes(key)) {
      const offset = (item.key as { range?: [number, number, number] })?.range?.[0] ?? 0;
      out.push(`line ${lines.linePos(offset).line}: field ${key} not found in type ${type}`);
    }
  }
  return out;
}

/** Go's base64.StdEncoding.DecodeString (padding required, CR/LF skipped), with its error offsets. */
function decodeGoBase64(src: string): Buffer {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  const corrupt = (at: number) => new Error(`illegal base64 data at input byte ${at}`);
  const out: number[] = [];
  let si = 0;
  const skipNewlines = () => {
    while (si < src.length && (src[si] === '\n' || src[si] === '\r')) si++;
  };
  for (;;) {
    const quantum: number[] = [];
    let padded = false;
    while (quantum.length < 4) {
      if (si === src.length) {
        if (quantum.length === 0) return Buffer.from(out);
        throw corrupt(si - quantum.length);
      }
      const c = src[si++]!;
      const v = alphabet.indexOf(c);
      if (v >= 0) {
        quantum.push(v);
        continue;
      }
      if (c === '\n' || c === '\r') continue;
      if (c !== '=' || quantum.length < 2) throw corrupt(si - 1);
      if (quantum.length === 2) {
        // "==" must follow a 2-symbol quantum.
        skipNewlines();
        if (si === src.length) throw corrupt(src.length);
        if (src[si] !== '=') throw corrupt(si - 1);
        si++;
      }
      skipNewlines();
      if (si < src.length) throw corrupt(si);
      padded = true;
      break;
    }
    const [a = 0, b = 0, c = 0, d = 0] = quantum;
    const bits = (a << 18) | (b << 12) | (c << 6) | d;
    const bytes = [(bits >> 16) & 255, (bits >> 8) & 255, bits & 255].slice(0, quantum.length - 1);
    out.push(...bytes);
    if (padded) return Buffer.from(out);
  }
}

function readConfig(
  path: string | undefined,
  inline: string | undefined,
): Record<string, unknown> & { __lines?: LineCounter } {
  // cli.LoadConfigWithMutators refuses both sources before reading either.
  if (path && inline) throw new TbotError('cannot specify both config and config-string');
  // Everything read from a source is wrapped with where it came from (trace.Wrap in LoadConfigWithMutators).
  const from = inline
    ? 'loading bot config from base64 encoded string'
    : `loading bot config from path ${path}`;
  try {
    return parseConfig(path, inline);
  } catch (error) {
    if (error instanceof TbotError && (path || inline)) throw new TbotError(`${from}: ${error.message}`);
    throw error;
  }
}

function parseConfig(
  path: string | undefined,
  inline: string | undefined,
): Record<string, unknown> & { __lines?: LineCounter } {
  let text: string;
  if (inline) {
    try {
      text = decodeGoBase64(inline).toString('utf8');
    } catch (error) {
      throw new TbotError(`failed to decode base64 encoded config: ${(error as Error).message}`);
    }
  } else if (path) {
    try {
      text = readFileSync(path, 'utf8');
    } catch (error) {
      const e = error as NodeJS.ErrnoException;
      throw new TbotError(
        `failed to open file: ${path}: open ${path}: ${e.code === 'ENOENT' ? 'no such file or directory' : e.message}`,
      );
    }
  } else text = '';
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true });
  if (doc.errors.length) {
    throw new TbotError(`failed parsing config file version: ${doc.errors[0]!.message.replace(/\n/g, '')}`);
  }
  const root = doc.contents;
  if (root !== null && !isMap(root))
    throw new TbotError(
      'failed parsing config file: yaml: unmarshal errors:  line 1: cannot unmarshal into config.BotConfig',
    );
  const version: unknown = root ? root.toJSON()['version'] : undefined;
  if (version === undefined || version === '' || version === 'v1') {
    throw new TbotError(
      'the tbot stand-in reads only `version: v2` configurations (tbot would migrate a v1 config in memory with a deprecation warning)',
    );
  }
  if (version !== 'v2') throw new TbotError(`unrecognized config version ${JSON.stringify(String(version))}`);
  const problems = root ? fieldErrors(root, BOT_FIELDS, 'config.BotConfig', lines) : [];
  const onboarding = root?.get('onboarding', true);
  if (isMap(onboarding))
    problems.push(...fieldErrors(onboarding, ONBOARDING_FIELDS, 'onboarding.Config', lines));
  if (problems.length)
    throw new TbotError(`failed parsing config file: yaml: unmarshal errors:  ${problems.join('  ')}`);
  const services = root?.get('services', true);
  if (services !== undefined && services !== null && !isSeq(services)) {
    throw new TbotError('failed parsing config file: yaml: unmarshal errors:  services must be a list');
  }
  if (isSeq(services)) {
    for (const item of services.items) {
      if (!isMap(item)) throw new TbotError('failed parsing config file: service entries must be maps');
      const type = String(item.get('type') ?? '');
      if (!KNOWN_SERVICES.includes(type))
        throw new TbotError(`failed parsing config file: unrecognized service type (${type})`);
      if (type === 'workload-identity-jwt') {
        const errs = fieldErrors(item, JWT_SERVICE_FIELDS, 'config.WorkloadIdentityJWTService', lines);
        const dest = item.get('destination', true);
        if (isMap(dest) && dest.get('type') === 'directory') {
          errs.push(...fieldErrors(dest, DIRECTORY_FIELDS, 'destination.Directory', lines));
        }
        if (errs.length)
          throw new TbotError(`failed parsing config file: yaml: unmarshal errors:  ${errs.join('  ')}`);
      }
    }
  }
  const out = (root?.toJSON() ?? {}) as Record<string, unknown>;
  return out;
}

function buildConfig(raw: Record<string, unknown>, p: KingpinParsed): BotConfig {
  const onboarding = (raw['onboarding'] ?? {}) as Record<string, unknown>;
  const cfg: BotConfig = {
    proxyServer: typeof raw['proxy_server'] === 'string' ? raw['proxy_server'] : '',
    authServer: typeof raw['auth_server'] === 'string' ? raw['auth_server'] : '',
    oneshot: raw['oneshot'] === true,
    debug: raw['debug'] === true,
    joinMethod: typeof onboarding['join_method'] === 'string' ? onboarding['join_method'] : '',
    token: typeof onboarding['token'] === 'string' ? onboarding['token'] : '',
    services: [],
  };
  // CLI flags (and their environment variables) override the file, as tbot's ApplyConfig does.
  for (const [flag, key] of [
    ['auth-server', 'authServer'],
    ['proxy-server', 'proxyServer'],
  ] as const) {
    const v = str(p, flag);
    if (v) {
      if (cfg[key]) {
        logLine('WARN', 'tbot', 'CLI parameters are overriding configuration', {
          flag,
          config_value: cfg[key],
          cli_value: v,
        });
      }
      cfg[key] = v;
    }
  }
  if (pbool(p, 'oneshot')) cfg.oneshot = true;
  if (pbool(p, 'debug')) cfg.debug = true;
  if (str(p, 'token') || str(p, 'join-method') || (p.values.get('ca-pin') as string[]).length) {
    if (cfg.token || cfg.joinMethod)
      logLine('WARN', 'tbot', 'CLI parameters are overriding join configuration');
    cfg.token = str(p, 'token');
    cfg.joinMethod = str(p, 'join-method');
  }
  if (cfg.joinMethod && !SUPPORTED_JOIN_METHODS.includes(cfg.joinMethod)) {
    throw new TbotError(
      `validating merged bot config: unrecognized join method: ${JSON.stringify(cfg.joinMethod)}`,
    );
  }
  const storage = raw['storage'] as Record<string, unknown> | undefined;
  if (
    storage &&
    storage['type'] !== undefined &&
    !['memory', 'directory', 'kubernetes_secret'].includes(String(storage['type']))
  ) {
    throw new TbotError(
      `failed parsing config file: unrecognized destination type (${String(storage['type'])})`,
    );
  }
  const services = (raw['services'] ?? []) as Record<string, unknown>[];
  services.forEach((svc, i) => {
    const type = String(svc['type']);
    if (type !== 'workload-identity-jwt') {
      throw new TbotError(
        `the tbot stand-in implements only workload-identity-jwt services, not ${JSON.stringify(type)} (services[${i}])`,
      );
    }
    const wrap = (m: string) => new TbotError(`validating merged bot config: validating service[${i}]: ${m}`);
    const dest = svc['destination'] as Record<string, unknown> | undefined;
    if (!dest) throw wrap('no destination configured for output');
    const dtype = String(dest['type'] ?? '');
    if (dtype !== 'directory') {
      if (!['memory', 'kubernetes_secret'].includes(dtype))
        throw new TbotError(`failed parsing config file: unrecognized destination type (${dtype})`);
      throw new TbotError(
        `the tbot stand-in writes only directory destinations, not ${JSON.stringify(dtype)}`,
      );
    }
    if (typeof dest['path'] !== 'string' || dest['path'] === '')
      throw wrap('destination path must not be empty');
    const selector = (svc['selector'] ?? {}) as Record<string, unknown>;
    const hasName = typeof selector['name'] === 'string' && selector['name'] !== '';
    const hasLabels = selector['labels'] !== undefined;
    if (!hasName && !hasLabels) throw wrap("validating selector: one of ['name', 'labels'] must be set");
    if (hasName && hasLabels) throw wrap("validating selector: at most one of ['name', 'labels'] can be set");
    if (hasLabels) throw new TbotError('the tbot stand-in selects workload identities by name only');
    const audiences = svc['audiences'];
    if (!Array.isArray(audiences) || audiences.length === 0)
      throw wrap('audiences: must have at least one value');
    cfg.services.push({
      selector: selector['name'] as string,
      path: dest['path'],
      audiences: audiences.map(String),
    });
  });
  return cfg;
}

// ---- join ----

interface JoinAnswer {
  jwt?: string;
  error?: { message?: string };
}

async function joinForJwt(proxy: string, body: Record<string, unknown>, insecure: boolean): Promise<string> {
  const url = `https://${proxy}/webapi/standin/join`;
  let last = '';
  for (let attempt = 0; attempt < 3; attempt++) {
    if (attempt > 0) await sleep(1000 * attempt);
    try {
      logLine('DEBUG', 'tbot:identity', 'Sending join request', { url });
      const res = await request('POST', url, {
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
        insecureSkipVerify: insecure,
      });
      let parsed: JoinAnswer = {};
      try {
        parsed = JSON.parse(res.body.toString('utf8')) as JoinAnswer;
      } catch {}
      if (res.status === 200 && parsed.jwt) return parsed.jwt;
      last = parsed.error?.message ?? `unexpected status ${res.status}`;
      if (res.status < 500 && res.status !== 429) throw new TbotError(last);
    } catch (error) {
      if (error instanceof TbotError) throw error;
      last = error instanceof DeadlineError ? 'context deadline exceeded' : (error as Error).message;
    }
    logLine('WARN', 'tbot:identity', 'Join attempt failed, retrying', { attempt: attempt + 1, error: last });
  }
  throw new TbotError(last);
}

function writeSvid(dir: string, jwt: string): void {
  if (!existsSync(dir)) mkdirSync(dir, { recursive: true, mode: 0o700 });
  const target = join(dir, 'jwt_svid');
  const tmp = `${target}.tmp-${process.pid}`;
  writeFileSync(tmp, jwt, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, target);
}

async function start(p: KingpinParsed, fault: ToolFault | undefined, version: string): Promise<number> {
  const raw = readConfig(str(p, 'config') || undefined, str(p, 'config-string') || undefined);
  const cfg = buildConfig(raw, p);
  debugOn = cfg.debug;
  logLine('INFO', 'tbot', 'Initializing tbot', { version, pid: `${process.pid}.1` });
  // Both set (e.g. TELEPORT_AUTH_SERVER next to proxy_server) leaves no usable address, as in tbot's Address().
  if ((cfg.proxyServer && cfg.authServer) || (!cfg.proxyServer && !cfg.authServer)) {
    throw new TbotError(
      'either a proxy or auth address must be set using --proxy-server, --auth-server or configuration',
    );
  }
  if (!cfg.joinMethod) throw new TbotError('join method must be provided');
  if (cfg.joinMethod !== 'github')
    throw new TbotError(
      `the tbot stand-in joins only with join_method github, not ${JSON.stringify(cfg.joinMethod)}`,
    );
  if (!cfg.token)
    throw new TbotError('a join token must be provided via --token, TELEPORT_BOT_TOKEN or onboarding.token');
  if (cfg.authServer) throw new TbotError('the tbot stand-in connects through proxy_server only');

  if (fault?.mode === 'hang') await hangForever();
  if (fault?.mode === 'fail') throw new TbotError(fault.message ?? 'injected failure before joining');

  logLine('INFO', 'tbot:identity', 'Fetching bot identity using token', {
    token_name: cfg.token,
    join_method: cfg.joinMethod,
  });
  let idToken: string;
  try {
    idToken = await githubIdToken(JOIN_AUDIENCE);
  } catch (error) {
    throw new TbotError(`joining cluster: getting GitHub Actions ID token: ${(error as Error).message}`);
  }
  for (const svc of cfg.services) {
    const body: Record<string, unknown> = {
      token: cfg.token,
      id_token: idToken,
      workload_identity: svc.selector,
      audiences: fault?.mode === 'bad-aud' ? ['bad-audience.invalid'] : svc.audiences,
    };
    if (fault?.mode === 'expired-jwt') body['exp_offset_seconds'] = -120;
    let jwt: string;
    try {
      jwt = await joinForJwt(cfg.proxyServer, body, pbool(p, 'insecure'));
    } catch (error) {
      throw new TbotError(`service(workload-identity-jwt (${svc.selector})): ${(error as Error).message}`);
    }
    logLine('INFO', 'tbot:identity', 'Fetched new bot identity', { identity: `bot-${cfg.token}` });
    if (fault?.mode === 'no-jwt') {
      logLine('WARN', 'tbot:workload-identity-jwt', 'Credential not written (injected)', { path: svc.path });
      continue;
    }
    writeSvid(svc.path, jwt);
    logLine('INFO', 'tbot:workload-identity-jwt', 'Generated and wrote workload identity JWT', {
      workload_identity: svc.selector,
      path: join(svc.path, 'jwt_svid'),
    });
  }
  if (fault?.mode === 'exit1-after-work') {
    // The real oneshot failure mode: credentials are on disk, then an internal service fails the run.
    logLine('ERROR', 'tbot', 'Service exited with error', {
      service: 'heartbeat',
      error: fault.message ?? 'rpc error: code = Unavailable desc = heartbeat stream closed',
    });
    throw new TbotError(
      fault.message ?? 'service(heartbeat): rpc error: code = Unavailable desc = heartbeat stream closed',
    );
  }
  if (!cfg.oneshot) {
    // A non-oneshot bot keeps renewing until stopped.
    logLine('INFO', 'tbot', 'Bot running; will renew credentials until stopped');
    await hangForever();
  }
  logLine('INFO', 'tbot', 'One-shot mode completed');
  return 0;
}

function usage(): void {
  process.stderr.write(
    'usage: tbot [<flags>] <command> [<args> ...]\n\nStand-in for tbot (test world). Emulated: tbot start [legacy], tbot version.\n\n',
  );
}

async function main(argv: string[]): Promise<number> {
  const b = baked();
  checkArch(b, 'tbot');
  let p: KingpinParsed;
  try {
    p = parseKingpin(argv, [...GLOBAL_FLAGS, ...START_FLAGS], COMMANDS, {
      start: 'legacy',
      configure: 'legacy',
    });
  } catch (error) {
    logCall(b, 'tbot', argv, '');
    if (error instanceof HelpRequested) {
      usage();
      return 0;
    }
    usage();
    throw error;
  }
  const command = p.command.join(' ');
  logCall(b, 'tbot', argv, command, { configEnv: p.fromEnv });
  logFormat = str(p, 'log-format');
  debugOn = pbool(p, 'debug');
  if (p.command.length === 0) {
    usage();
    throw new FlagError('expected command but got nothing');
  }
  if (command === 'version') {
    process.stdout.write(`Teleport v${b.version} git:v${b.version}-0-g5a4dc0e go1.23.8\n`);
    return 0;
  }
  if (command === 'help') {
    usage();
    return 0;
  }
  if (command !== 'start legacy')
    throw new TbotError(`the tbot stand-in does not implement \`tbot ${command}\``);
  const fault = takeFault(b, 'tbot', 'start');
  return start(p, fault, b.version);
}

main(process.argv.slice(2)).then(
  (code) => exitAfterFlush(code),
  (error: unknown) => {
    process.stderr.write(`ERROR: ${error instanceof Error ? error.message : String(error)}\n`);
    return exitAfterFlush(1);
  },
);
