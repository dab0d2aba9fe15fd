// Stand-in for the flux CLI (fluxcd/flux2 v2.9.4): `push artifact`, `pull artifact`, `version`, with flux's flags,
// logs and errors. It really builds the tarball and really talks to the registry.
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { stringify as yamlStringify } from 'yaml';
import type { ToolFault } from './control.ts';
import {
  FlagError,
  type FlagSpec,
  findCommandPath,
  HelpRequested,
  list,
  num,
  type Parsed,
  parsePflag,
  bool as pbool,
  str,
} from './lib/flags.ts';
import { DeadlineError } from './lib/http.ts';
import type { Credentials } from './lib/keychain.ts';
import { parseReference, type Reference, repoName } from './lib/reference.ts';
import {
  type Backoff,
  goJson,
  manifestBytes,
  OCI_MANIFEST,
  RegistryClient,
  sha256Digest,
} from './lib/registry.ts';
import { baked, checkArch, exitAfterFlush, hangForever, logCall, takeFault } from './lib/runtime.ts';
import { collectEntries, tarGz } from './lib/tarball.ts';
import { untar } from './lib/untar.ts';

const CONFIG_MEDIA_TYPE = 'application/vnd.cncf.flux.config.v1+json';
const CONTENT_MEDIA_TYPE = 'application/vnd.cncf.flux.content.v1.tar+gzip';
const ANN_CREATED = 'org.opencontainers.image.created';
const ANN_SOURCE = 'org.opencontainers.image.source';
const ANN_REVISION = 'org.opencontainers.image.revision';
/** sourceignore.ExcludeVCS + ExcludeExt: flux's default --ignore-paths. */
const EXCLUDE_OCI = [
  '.git/',
  '.gitignore',
  '.gitmodules',
  '.gitattributes',
  '*.jpg',
  '*.jpeg',
  '*.gif',
  '*.png',
  '*.wmv',
  '*.flv',
  '*.tar.gz',
  '*.zip',
];
/**
 * The config blob go-containerregistry v0.21.6 emits for flux's config media type: the empty image's config,
 * re-used as-is for a non-image config media type (so the `created` time set by flux is not carried).
 */
const CONFIG_BLOB =
  '{"architecture":"","created":"0001-01-01T00:00:00Z","os":"","rootfs":{"type":"layers","diff_ids":null},"config":{}}';

class CliError extends Error {}

const out = (s: string) => process.stdout.write(s);
const log = {
  action: (s: string) => process.stderr.write(`► ${s}\n`),
  success: (s: string) => process.stderr.write(`✔ ${s}\n`),
  failure: (s: string) => process.stderr.write(`✗ ${s}\n`),
};

const PROVIDERS = ['generic', 'aws', 'azure', 'gcp'];
const checkProvider = (v: string) => {
  if (v.trim() === '') throw new Error('no source OCI provider given, please specify the OCI provider name');
  if (!PROVIDERS.includes(v)) {
    throw new Error(`source OCI provider '${v}' is not supported, must be one of: ${PROVIDERS.join(', ')}`);
  }
};

// Root persistent flags: flux's own plus the kubeconfig flags it registers (accepted, unused here).
const ROOT_FLAGS: FlagSpec[] = [
  { name: 'timeout', kind: 'duration', default: 5 * 60_000 },
  { name: 'verbose', kind: 'bool' },
  { name: 'ns-follows-kube-context', kind: 'bool' },
  {
    name: 'namespace',
    short: 'n',
    kind: 'string',
    default: process.env['FLUX_SYSTEM_NAMESPACE'] || 'flux-system',
  },
  { name: 'kubeconfig', kind: 'string' },
  { name: 'context', kind: 'string' },
  { name: 'cluster', kind: 'string' },
  { name: 'user', kind: 'string' },
  { name: 'as', kind: 'string' },
  { name: 'as-group', kind: 'stringArray' },
  { name: 'as-uid', kind: 'string' },
  { name: 'cache-dir', kind: 'string' },
  { name: 'certificate-authority', kind: 'string' },
  { name: 'client-certificate', kind: 'string' },
  { name: 'client-key', kind: 'string' },
  { name: 'disable-compression', kind: 'bool' },
  { name: 'insecure-skip-tls-verify', kind: 'bool' },
  { name: 'server', kind: 'string' },
  { name: 'tls-server-name', kind: 'string' },
  { name: 'token', kind: 'string' },
  { name: 'kube-api-qps', kind: 'string' },
  { name: 'kube-api-burst', kind: 'int' },
  { name: 'version', short: 'v', kind: 'bool' },
];

const PUSH_FLAGS: FlagSpec[] = [
  { name: 'path', short: 'f', kind: 'string' },
  { name: 'source', kind: 'string' },
  { name: 'revision', kind: 'string' },
  { name: 'creds', kind: 'string' },
  { name: 'provider', kind: 'string', default: 'generic', check: checkProvider },
  { name: 'ignore-paths', kind: 'stringSlice', default: EXCLUDE_OCI },
  { name: 'annotations', short: 'a', kind: 'stringArray' },
  { name: 'output', short: 'o', kind: 'string' },
  { name: 'debug', kind: 'bool' },
  { name: 'reproducible', kind: 'bool' },
  { name: 'insecure-registry', kind: 'bool' },
  { name: 'resolve-symlinks', kind: 'bool' },
];

const PULL_FLAGS: FlagSpec[] = [
  { name: 'output', short: 'o', kind: 'string' },
  { name: 'creds', kind: 'string' },
  { name: 'provider', kind: 'string', default: 'generic', check: checkProvider },
  { name: 'insecure-registry', kind: 'bool' },
];

const VERSION_FLAGS: FlagSpec[] = [
  { name: 'client', kind: 'bool' },
  { name: 'output', short: 'o', kind: 'string', default: 'yaml' },
];

/** flux's command tree; leaves we do not emulate are listed so they are not "unknown". */
const TREE: Record<string, Record<string, unknown>> = {
  push: { artifact: {} },
  pull: { artifact: {} },
  version: {},
  build: { artifact: {}, kustomization: {} },
  tag: { artifact: {} },
  list: { artifacts: {} },
  diff: { artifact: {}, kustomization: {} },
  bootstrap: {},
  check: {},
  create: {},
  delete: {},
  export: {},
  get: {},
  install: {},
  uninstall: {},
  reconcile: {},
  resume: {},
  suspend: {},
  logs: {},
  tree: {},
  trace: {},
  events: {},
  stats: {},
  debug: {},
  migrate: {},
  envsubst: {},
  completion: {},
  help: {},
};

function parseArtifactUrl(url: string): Reference {
  if (!url.startsWith('oci://')) throw new CliError("URL must be in format 'oci://<domain>/<org>/<repo>'");
  try {
    return parseReference(url.slice('oci://'.length));
  } catch (error) {
    throw new CliError(`'${url}' invalid URL: ${(error as Error).message}`);
  }
}

function credsFrom(creds: string): Credentials {
  const colon = creds.indexOf(':');
  return colon < 0
    ? { username: '', password: '', registryToken: creds }
    : { username: creds.slice(0, colon), password: creds.slice(colon + 1) };
}

function goTimestamp(): string {
  const d = new Date();
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}/${p(d.getMonth() + 1)}/${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

function rfc3339Seconds(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function clientFor(ref: Reference, p: Parsed, push: boolean, credentials?: Credentials): RegistryClient {
  const timeout = num(p, 'timeout');
  const opts: ConstructorParameters<typeof RegistryClient>[2] = { push };
  if (credentials) opts.credentials = credentials;
  if (pbool(p, 'insecure-registry')) opts.insecure = true;
  if (timeout > 0) {
    opts.deadline = Date.now() + timeout;
    // flux's retry transport: 1s, x3, 10% jitter, 10 steps, capped by --timeout.
    if (push)
      opts.backoff = {
        durationMs: 1000,
        factor: 3,
        jitter: 0.1,
        steps: 10,
        capMs: timeout,
      } satisfies Backoff;
  }
  if (p.values.has('debug') && pbool(p, 'debug'))
    opts.warn = (m) => process.stderr.write(`${goTimestamp()} ${m}\n`);
  return new RegistryClient(ref.registry, ref.repository, opts);
}

async function loginWithProvider(provider: string): Promise<never> {
  log.action('logging in to registry with provider credentials');
  throw new CliError(
    `error during login with provider: the flux stand-in does not implement provider "${provider}"`,
  );
}

async function pushArtifact(p: Parsed, fault: ToolFault | undefined): Promise<number> {
  const [ociUrl] = p.args;
  if (!ociUrl) throw new CliError('artifact URL is required');
  const source = str(p, 'source');
  const revision = str(p, 'revision');
  if (source === '') throw new CliError('--source is required');
  if (revision === '') throw new CliError('--revision is required');
  if (str(p, 'path') === '') throw new CliError(`invalid path ""`);
  const ref = parseArtifactUrl(ociUrl);
  const url = ociUrl.slice('oci://'.length);
  let path = str(p, 'path');
  if (path === '-') throw new CliError('the flux stand-in does not read manifests from stdin (--path -)');
  try {
    statSync(path);
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    throw new CliError(
      `invalid path '${path}', must point to an existing directory or file: stat ${path}: ${e.code === 'ENOENT' ? 'no such file or directory' : e.message}`,
    );
  }
  path = resolve(path);
  const annotations: Record<string, string> = {};
  for (const a of list(p, 'annotations')) {
    const kv = a.split('=');
    if (kv.length !== 2) throw new CliError(`invalid annotation ${a}, must be in the format key=value`);
    annotations[kv[0]!] = kv[1]!;
  }
  const created = pbool(p, 'reproducible') ? rfc3339Seconds(new Date(0)) : rfc3339Seconds(new Date());

  let credentials: Credentials | undefined;
  const provider = str(p, 'provider');
  if (provider === 'generic' && str(p, 'creds') !== '') {
    log.action('logging in to registry with credentials');
    credentials = credsFrom(str(p, 'creds'));
  }
  if (provider !== 'generic') await loginWithProvider(provider);
  const output = str(p, 'output');
  if (output === '') log.action(`pushing artifact to ${url}`);

  let digest: string;
  try {
    const entries = collectEntries(path, {
      ignorePaths: list(p, 'ignore-paths'),
      resolveSymlinks: pbool(p, 'resolve-symlinks'),
    });
    const layer = tarGz(entries);
    const layerDigest = sha256Digest(layer);
    const config = Buffer.from(CONFIG_BLOB);
    const configDigest = sha256Digest(config);
    const manifest = manifestBytes({
      mediaType: OCI_MANIFEST,
      config: { mediaType: CONFIG_MEDIA_TYPE, size: config.length, digest: configDigest },
      layers: [{ mediaType: CONTENT_MEDIA_TYPE, size: layer.length, digest: layerDigest }],
      annotations: { [ANN_CREATED]: created, [ANN_SOURCE]: source, [ANN_REVISION]: revision, ...annotations },
    });
    const client = clientFor(ref, p, true, credentials);
    await client.uploadBlob(layerDigest, layer);
    await client.uploadBlob(configDigest, config);
    digest = await client.putManifest(ref.digest ?? ref.tag ?? 'latest', manifest, OCI_MANIFEST);
  } catch (error) {
    const msg = error instanceof DeadlineError ? 'context deadline exceeded' : (error as Error).message;
    if (msg.startsWith('resolving symlinks failed')) throw new CliError(msg);
    // Both flux and fluxcd/pkg wrap the error with the same words.
    throw new CliError(`pushing artifact failed: pushing artifact failed: ${msg}`);
  }
  const digestUrl = `${repoName(ref)}@${digest}`;
  if (fault?.mode === 'exit1-after-work') {
    // The manifest landed but the client saw a failure (e.g. the deadline hit while reading the answer).
    log.failure(fault.message ?? 'pushing artifact failed: context deadline exceeded');
    return 1;
  }
  if (ref.digest) throw new CliError(`artifact tag parsing failed: could not parse reference: ${url}`);
  const info = { url: `oci://${digestUrl}`, repository: repoName(ref), tag: ref.tag ?? 'latest', digest };
  if (output === 'json') out(`${goJson(info, 2)}\n`);
  else if (output === 'yaml') {
    const sorted = { digest: info.digest, repository: info.repository, tag: info.tag, url: info.url };
    out(yamlStringify(sorted));
  } else log.success(`artifact successfully pushed to ${digestUrl}`);
  return 0;
}

async function pullArtifact(p: Parsed, fault: ToolFault | undefined): Promise<number> {
  const [ociUrl] = p.args;
  if (!ociUrl) throw new CliError('artifact URL is required');
  const output = str(p, 'output');
  if (output === '') throw new CliError('output path cannot be empty');
  try {
    if (!statSync(output).isDirectory())
      throw new CliError(`invalid output path ${JSON.stringify(output)}: %!w(<nil>)`);
  } catch (error) {
    if (error instanceof CliError) throw error;
    throw new CliError(
      `invalid output path ${JSON.stringify(output)}: stat ${output}: no such file or directory`,
    );
  }
  const ref = parseArtifactUrl(ociUrl);
  const url = ociUrl.slice('oci://'.length);
  const provider = str(p, 'provider');
  if (provider !== 'generic') await loginWithProvider(provider);
  let credentials: Credentials | undefined;
  if (provider === 'generic' && str(p, 'creds') !== '') {
    log.action('logging in to registry with credentials');
    credentials = credsFrom(str(p, 'creds'));
  }
  log.action(`pulling artifact from ${url}`);
  const client = clientFor(ref, p, false, credentials);
  let manifest: { body: Buffer; digest: string };
  let annotations: Record<string, string> = {};
  try {
    manifest = await client.getManifest(ref.digest ?? ref.tag ?? 'latest');
    const parsed = JSON.parse(manifest.body.toString('utf8')) as {
      layers?: { digest: string }[];
      annotations?: Record<string, string>;
    };
    annotations = parsed.annotations ?? {};
    const layers = parsed.layers ?? [];
    if (layers.length < 1) throw new CliError('no layers found in artifact');
    const blob = await client.getBlob(layers[0]!.digest);
    untar(blob, output);
  } catch (error) {
    if (error instanceof CliError) throw error;
    throw new CliError(
      error instanceof DeadlineError ? 'context deadline exceeded' : (error as Error).message,
    );
  }
  if (annotations[ANN_SOURCE]) log.success(`source ${annotations[ANN_SOURCE]}`);
  if (annotations[ANN_REVISION]) log.success(`revision ${annotations[ANN_REVISION]}`);
  log.success(`digest ${repoName(ref)}@${manifest.digest}`);
  log.success(`artifact content extracted to ${output}`);
  if (fault?.mode === 'exit1-after-work') {
    log.failure(fault.message ?? 'context deadline exceeded');
    return 1;
  }
  return 0;
}

function help(path: string[]): number {
  out(
    `Stand-in for the flux CLI (test world). Emulated: flux push artifact, flux pull artifact, flux version.\n\nUsage:\n  flux ${path.join(' ') || '[command]'} [flags]\n`,
  );
  return 0;
}

async function main(argv: string[]): Promise<number> {
  const b = baked();
  checkArch(b, 'flux');
  const allFlags = [...ROOT_FLAGS, ...PUSH_FLAGS, ...PULL_FLAGS, ...VERSION_FLAGS];
  const boolNames = new Set(allFlags.filter((f) => f.kind === 'bool').map((f) => f.name));
  for (const f of allFlags) if (f.kind === 'bool' && f.short) boolNames.add(f.short);
  const { path, rest } = findCommandPath(argv, TREE, boolNames);
  const command = path.join(' ');
  logCall(b, 'flux', argv, command);

  const leafFlags =
    command === 'push artifact'
      ? PUSH_FLAGS
      : command === 'pull artifact'
        ? PULL_FLAGS
        : command === 'version'
          ? VERSION_FLAGS
          : [];
  // `--version` is a local flag of the root command only.
  const rootFlags = path.length === 0 ? ROOT_FLAGS : ROOT_FLAGS.filter((f) => f.name !== 'version');
  let p: Parsed;
  try {
    p = parsePflag(rest, [...rootFlags, ...leafFlags]);
  } catch (error) {
    if (error instanceof HelpRequested) return help(path);
    throw error;
  }
  if (path.length === 0) {
    if (pbool(p, 'version')) {
      out(`flux version ${b.version}\n`);
      return 0;
    }
    if (p.args.length > 0) throw new CliError(`unknown command ${JSON.stringify(p.args[0])} for "flux"`);
    return help(path);
  }
  const ns = str(p, 'namespace');
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(ns) || ns.length > 63) {
    throw new CliError(`namespace must be a valid DNS label: ${JSON.stringify(ns)}`);
  }
  // A command that has subcommands but no action prints its help (cobra).
  const node = path.reduce<Record<string, unknown> | undefined>(
    (n, k) => n?.[k] as Record<string, unknown>,
    TREE,
  );
  if (node && Object.keys(node).length > 0) return help(path);

  if (path[0] === 'help') return help(path.slice(1));
  if (command === 'version') {
    const o = str(p, 'output');
    if (o !== 'yaml' && o !== 'json') throw new CliError(`--output must be json or yaml, not ${o}`);
    if (!pbool(p, 'client')) {
      throw new CliError('the flux stand-in has no cluster: use `flux version --client`');
    }
    out(o === 'json' ? `${JSON.stringify({ flux: `v${b.version}` }, null, 2)}\n` : `flux: v${b.version}\n`);
    return 0;
  }
  if (command !== 'push artifact' && command !== 'pull artifact') {
    throw new CliError(`the flux stand-in does not implement \`flux ${command}\``);
  }
  const tool = command === 'push artifact' ? 'push' : 'pull';
  const fault = takeFault(b, 'flux', tool);
  if (fault?.mode === 'hang') await hangForever();
  if (fault?.mode === 'fail') throw new CliError(fault.message ?? `injected failure before ${tool}`);
  return tool === 'push' ? pushArtifact(p, fault) : pullArtifact(p, fault);
}

main(process.argv.slice(2)).then(
  (code) => exitAfterFlush(code),
  (error: unknown) => {
    log.failure(
      error instanceof FlagError || error instanceof CliError
        ? error.message
        : String((error as Error)?.message ?? error),
    );
    return exitAfterFlush(1);
  },
);
