// Stand-in for cosign (sigstore/cosign v2.6.x behaviour, tag-based `sha256-<hex>.sig` signatures): keyless `sign`
// and `verify` against the real registry, `version`. Signing material comes from stand-in Fulcio/Rekor keys.
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  createLocalJWKSet,
  decodeJwt,
  type JSONWebKeySet,
  type JWTPayload,
  errors as joseErrors,
  jwtVerify,
} from 'jose';
import { OIDC_JWKS_FILE, type TokenSource, type ToolFault } from './control.ts';
import {
  type FlagSpec,
  findCommandPath,
  HelpRequested,
  list,
  type Parsed,
  parseGoBool,
  parsePflag,
  bool as pbool,
  str,
} from './lib/flags.ts';
import { DeadlineError } from './lib/http.ts';
import type { Credentials } from './lib/keychain.ts';
import { githubIdToken, githubOidcAvailable } from './lib/oidc.ts';
import { parseReference, parseRepo, type Reference, repoName, signatureTag } from './lib/reference.ts';
import {
  type Descriptor,
  goJson,
  manifestBytes,
  OCI_MANIFEST,
  RegistryClient,
  RegistryError,
  sha256Digest,
  sortedMap,
} from './lib/registry.ts';
import { baked, checkArch, exitAfterFlush, hangForever, logCall, takeFault } from './lib/runtime.ts';
import {
  type CertBody,
  chainPem,
  checkBundle,
  checkSet,
  ephemeralKey,
  issueCertificate,
  loadAuthority,
  makeBundle,
  type RekorBundle,
  readCertificate,
  signPayload,
  verifyPayload,
} from './lib/sigstore.ts';

const SIMPLESIGNING = 'application/vnd.dev.cosign.simplesigning.v1+json';
const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
const ANN_SIGNATURE = 'dev.cosignproject.cosign/signature';
const ANN_CERT = 'dev.sigstore.cosign/certificate';
const ANN_CHAIN = 'dev.sigstore.cosign/chain';
const ANN_BUNDLE = 'dev.sigstore.cosign/bundle';
const OID_ISSUER = '1.3.6.1.4.1.57264.1.1';
/** Fulcio's GitHub certificate extensions: cosign name → [OID, token claim]. */
const GITHUB_EXTENSIONS: [string, string, string][] = [
  ['githubWorkflowTrigger', '1.3.6.1.4.1.57264.1.2', 'event_name'],
  ['githubWorkflowSha', '1.3.6.1.4.1.57264.1.3', 'sha'],
  ['githubWorkflowName', '1.3.6.1.4.1.57264.1.4', 'workflow'],
  ['githubWorkflowRepository', '1.3.6.1.4.1.57264.1.5', 'repository'],
  ['githubWorkflowRef', '1.3.6.1.4.1.57264.1.6', 'ref'],
];

/** A failure that maps to one of cosign's verify exit codes. */
class CosignError extends Error {
  readonly code: number;
  constructor(message: string, code: number) {
    super(message);
    this.code = code;
  }
}
class CliError extends Error {}

const err = (s: string) => process.stderr.write(`${s}\n`);
const warn = (s: string) => err(`WARNING: ${s}`);

// ---- flags ----

const ROOT_FLAGS: FlagSpec[] = [
  { name: 'output-file', kind: 'string' },
  { name: 'verbose', short: 'd', kind: 'bool' },
  { name: 'timeout', short: 't', kind: 'duration', default: 3 * 60_000 },
];

const REGISTRY_FLAGS: FlagSpec[] = [
  { name: 'allow-insecure-registry', kind: 'bool' },
  { name: 'allow-http-registry', kind: 'bool' },
  { name: 'k8s-keychain', kind: 'bool' },
  { name: 'registry-username', kind: 'string' },
  { name: 'registry-password', kind: 'string' },
  { name: 'registry-token', kind: 'string' },
  { name: 'registry-cacert', kind: 'string' },
  { name: 'registry-client-cert', kind: 'string' },
  { name: 'registry-client-key', kind: 'string' },
  { name: 'registry-server-name', kind: 'string' },
  { name: 'registry-referrers-mode', kind: 'string' },
  { name: 'attachment-tag-prefix', kind: 'string' },
];

function signFlags(v3: boolean): FlagSpec[] {
  return [
    ...REGISTRY_FLAGS,
    { name: 'rekor-url', kind: 'string', default: 'https://rekor.sigstore.dev' },
    { name: 'fulcio-url', kind: 'string', default: 'https://fulcio.sigstore.dev' },
    { name: 'identity-token', kind: 'string' },
    { name: 'fulcio-auth-flow', kind: 'string' },
    { name: 'insecure-skip-verify', kind: 'bool' },
    { name: 'oidc-issuer', kind: 'string', default: 'https://oauth2.sigstore.dev/auth' },
    { name: 'oidc-client-id', kind: 'string', default: 'sigstore' },
    { name: 'oidc-client-secret-file', kind: 'string' },
    { name: 'oidc-redirect-url', kind: 'string' },
    { name: 'oidc-provider', kind: 'string' },
    { name: 'oidc-disable-ambient-providers', kind: 'bool' },
    { name: 'sk', kind: 'bool' },
    { name: 'slot', kind: 'string' },
    { name: 'annotations', short: 'a', kind: 'stringSlice' },
    { name: 'key', kind: 'string' },
    { name: 'certificate', kind: 'string' },
    { name: 'certificate-chain', kind: 'string' },
    { name: 'upload', kind: 'bool', default: true },
    { name: 'output-signature', kind: 'string' },
    { name: 'output-payload', kind: 'string' },
    { name: 'output-certificate', kind: 'string' },
    { name: 'payload', kind: 'string' },
    { name: 'recursive', short: 'r', kind: 'bool' },
    { name: 'attachment', kind: 'string' },
    { name: 'yes', short: 'y', kind: 'bool' },
    { name: 'tlog-upload', kind: 'bool', default: true },
    { name: 'timestamp-client-cacert', kind: 'string' },
    { name: 'timestamp-client-cert', kind: 'string' },
    { name: 'timestamp-client-key', kind: 'string' },
    { name: 'timestamp-server-name', kind: 'string' },
    { name: 'timestamp-server-url', kind: 'string' },
    { name: 'issue-certificate', kind: 'bool' },
    { name: 'sign-container-identity', kind: 'string' },
    { name: 'record-creation-timestamp', kind: 'bool' },
    { name: 'new-bundle-format', kind: 'bool', default: v3 },
    { name: 'use-signing-config', kind: 'bool', default: v3 },
    { name: 'signing-config', kind: 'string' },
    { name: 'trusted-root', kind: 'string' },
  ];
}

function verifyFlags(v3: boolean): FlagSpec[] {
  return [
    ...REGISTRY_FLAGS,
    { name: 'rekor-url', kind: 'string', default: 'https://rekor.sigstore.dev' },
    { name: 'key', kind: 'string' },
    { name: 'check-claims', kind: 'bool', default: true },
    { name: 'attachment', kind: 'string' },
    { name: 'output', short: 'o', kind: 'string', default: 'json' },
    { name: 'signature', kind: 'string' },
    { name: 'payload', kind: 'string' },
    { name: 'local-image', kind: 'bool' },
    { name: 'offline', kind: 'bool' },
    { name: 'timestamp-certificate-chain', kind: 'string' },
    { name: 'use-signed-timestamps', kind: 'bool' },
    { name: 'insecure-ignore-tlog', kind: 'bool' },
    { name: 'private-infrastructure', kind: 'bool' },
    { name: 'experimental-oci11', kind: 'bool' },
    { name: 'max-workers', kind: 'int', default: 10 },
    { name: 'trusted-root', kind: 'string' },
    { name: 'new-bundle-format', kind: 'bool', default: v3 },
    { name: 'certificate', kind: 'string' },
    { name: 'certificate-identity', kind: 'string' },
    { name: 'certificate-identity-regexp', kind: 'string' },
    { name: 'certificate-oidc-issuer', kind: 'string' },
    { name: 'certificate-oidc-issuer-regexp', kind: 'string' },
    { name: 'certificate-github-workflow-trigger', kind: 'string' },
    { name: 'certificate-github-workflow-sha', kind: 'string' },
    { name: 'certificate-github-workflow-name', kind: 'string' },
    { name: 'certificate-github-workflow-repository', kind: 'string' },
    { name: 'certificate-github-workflow-ref', kind: 'string' },
    { name: 'ca-intermediates', kind: 'string' },
    { name: 'ca-roots', kind: 'string' },
    { name: 'certificate-chain', kind: 'string' },
    { name: 'sct', kind: 'string' },
    { name: 'insecure-ignore-sct', kind: 'bool' },
    { name: 'signature-digest-algorithm', kind: 'string', default: 'sha256' },
    { name: 'annotations', short: 'a', kind: 'stringSlice' },
    { name: 'sk', kind: 'bool' },
    { name: 'slot', kind: 'string' },
  ];
}

const VERSION_FLAGS: FlagSpec[] = [{ name: 'json', kind: 'bool' }];

const NORMALIZE: Record<string, string> = {
  cert: 'certificate',
  'cert-email': 'certificate-email',
  'cert-chain': 'certificate-chain',
  'cert-oidc-issuer': 'certificate-oidc-issuer',
  'output-cert': 'output-certificate',
  'cert-identity': 'certificate-identity',
};

const TREE: Record<string, Record<string, unknown>> = Object.fromEntries(
  [
    'attach',
    'attest',
    'attest-blob',
    'bundle',
    'clean',
    'completion',
    'copy',
    'debug',
    'dockerfile',
    'download',
    'env',
    'generate',
    'generate-key-pair',
    'import-key-pair',
    'initialize',
    'load',
    'login',
    'manifest',
    'piv-tool',
    'pkcs11-tool',
    'public-key',
    'save',
    'sign',
    'sign-blob',
    'signing-config',
    'tree',
    'triangulate',
    'trusted-root',
    'upload',
    'verify',
    'verify-attestation',
    'verify-blob',
    'verify-blob-attestation',
    'version',
    'help',
  ].map((c) => [c, {}]),
);

/** cosign's main() rewrites single-dash long flags (`-output` → `--output`) and `--o` → `-o`, with a warning. */
function fixupArgs(argv: string[]): string[] {
  return argv.map((arg) => {
    if ((arg.startsWith('-') && arg.length === 2) || (arg.startsWith('--') && arg.length >= 4)) return arg;
    if (arg.startsWith('--') && arg.length === 3) {
      const next = `-${arg[2]}`;
      warn(
        `the flag ${arg} is deprecated and will be removed in a future release. Please use the flag ${next}.`,
      );
      return next;
    }
    if (arg.startsWith('-') && arg.length > 1) {
      let next = `-${arg}`;
      let kind = 'flag';
      if (next === '--version') {
        next = 'version';
        kind = 'subcommand';
      }
      warn(
        `the ${arg} flag is deprecated and will be removed in a future release. Please use the ${next} ${kind} instead.`,
      );
      return next;
    }
    return arg;
  });
}

/** viper's COSIGN_<FLAG> environment binding for flags not given on the command line. */
function bindEnv(p: Parsed, specs: readonly FlagSpec[]): void {
  for (const spec of specs) {
    if (p.changed.has(spec.name)) continue;
    const env = process.env[`COSIGN_${spec.name.toUpperCase().replace(/-/g, '_')}`];
    if (env === undefined) continue;
    if (spec.kind === 'bool') {
      try {
        p.values.set(spec.name, parseGoBool(env));
      } catch {}
    } else if (spec.kind === 'stringSlice' || spec.kind === 'stringArray')
      p.values.set(spec.name, env.split(','));
    else if (spec.kind === 'int') p.values.set(spec.name, Number(env));
    else if (spec.kind !== 'duration') p.values.set(spec.name, env);
    p.changed.add(spec.name);
  }
}

function registryOptions(
  p: Parsed,
  deadline: number | undefined,
  push: boolean,
): ConstructorParameters<typeof RegistryClient>[2] {
  const opts: ConstructorParameters<typeof RegistryClient>[2] = { push };
  if (deadline !== undefined) opts.deadline = deadline;
  if (pbool(p, 'allow-insecure-registry') || pbool(p, 'allow-http-registry')) opts.insecure = true;
  const user = str(p, 'registry-username');
  const pass = str(p, 'registry-password');
  const token = str(p, 'registry-token');
  if (token) opts.credentials = { username: '', password: '', registryToken: token } satisfies Credentials;
  else if (user || pass) opts.credentials = { username: user, password: pass };
  if (pbool(p, 'verbose')) opts.warn = (m) => err(m);
  return opts;
}

function parseImage(s: string): Reference {
  try {
    return parseReference(s);
  } catch (error) {
    throw new CliError(`parsing reference: ${(error as Error).message}`);
  }
}

/**
 * Where the signatures of `ref` live: `$COSIGN_REPOSITORY` when set (pkg/oci/remote `RepoOverrideEnvKey`, read by
 * `GetEnvTargetRepository` for sign and verify alike), else the image's own repository. Same tag either way.
 */
function signatureRepository(ref: Reference): Reference {
  const override = process.env['COSIGN_REPOSITORY'];
  if (!override) return ref;
  try {
    return parseRepo(override);
  } catch (error) {
    throw new CliError(`parsing $COSIGN_REPOSITORY: ${(error as Error).message}`);
  }
}

// ---- identity token (what Fulcio would accept) ----

/** Registration order of a Go ≥ 1.21 build (init in import-path order once imports are done), not all.go's import order. */
const PROVIDERS = [
  'filesystem',
  'envvar',
  'github-actions',
  'buildkite-agent',
  'spiffe',
  'google-workload-identity',
  'google-impersonate',
] as const;
type Provider = (typeof PROVIDERS)[number];
/** Emulated providers; the others are treated as disabled (their environments do not exist in the test world). */
const EMULATED = new Set<Provider>(['filesystem', 'envvar', 'github-actions']);
/** pkg/providers/filesystem: enabled when this file can be stat'ed. */
const FILESYSTEM_TOKEN = '/var/run/sigstore/cosign/oidc-token';

function providerEnabled(name: Provider): boolean {
  switch (name) {
    case 'filesystem':
      return existsSync(FILESYSTEM_TOKEN);
    case 'envvar':
      // LookupEnv: set, even to "", is enabled.
      return process.env['SIGSTORE_ID_TOKEN'] !== undefined;
    case 'github-actions':
      return githubOidcAvailable();
    default:
      return false;
  }
}

/** Where `cosign sign` takes its identity token from (internal/auth ReadIDToken), decided before any fetch. */
function tokenSource(p: Parsed): TokenSource {
  if (str(p, 'identity-token')) return 'flag';
  if (pbool(p, 'oidc-disable-ambient-providers') || !PROVIDERS.some(providerEnabled)) return 'none';
  const only = str(p, 'oidc-provider');
  // --oidc-provider picks one provider without asking whether it is enabled.
  if (only) return EMULATED.has(only as Provider) ? (only as TokenSource) : 'none';
  return (PROVIDERS.find(providerEnabled) as TokenSource | undefined) ?? 'none';
}

async function provide(name: Provider): Promise<string> {
  if (name === 'envvar') return process.env['SIGSTORE_ID_TOKEN'] ?? '';
  if (name === 'filesystem') {
    try {
      return readFileSync(FILESYSTEM_TOKEN, 'utf8');
    } catch (error) {
      const e = error as NodeJS.ErrnoException;
      throw new Error(
        `open ${FILESYSTEM_TOKEN}: ${e.code === 'ENOENT' ? 'no such file or directory' : e.message}`,
      );
    }
  }
  return githubIdToken('sigstore');
}

async function readIdToken(p: Parsed): Promise<string> {
  const flag = str(p, 'identity-token');
  const source = tokenSource(p);
  if (source === 'flag') {
    // cosign accepts the token or a path to a file holding it.
    try {
      if (existsSync(flag) && statSync(flag).isFile()) return readFileSync(flag, 'utf8').trim();
    } catch {}
    return flag;
  }
  const only = str(p, 'oidc-provider');
  const ambient = !pbool(p, 'oidc-disable-ambient-providers') && PROVIDERS.some(providerEnabled);
  if (ambient && only && !(PROVIDERS as readonly string[]).includes(only)) {
    throw new CliError(
      `getting signer: getting key from Fulcio: reading id token: getting provider: ${only} is not a valid provider`,
    );
  }
  if (ambient && only && !EMULATED.has(only as Provider)) {
    throw new CliError(`the cosign stand-in does not emulate the ${only} OIDC provider`);
  }
  let token = '';
  if (source !== 'none') {
    try {
      token = await provide(source);
    } catch (error) {
      throw new CliError(
        `getting signer: getting key from Fulcio: reading id token: fetching ambient OIDC credentials: ${(error as Error).message}`,
      );
    }
  }
  // An empty token (none found, or SIGSTORE_ID_TOKEN set to "") sends real cosign to the browser or device flow.
  if (token) return token;
  throw new CliError(
    'getting signer: getting key from Fulcio: retrieving cert: no identity token: the cosign stand-in has no interactive OIDC flow (give --identity-token, SIGSTORE_ID_TOKEN or the GitHub Actions OIDC variables)',
  );
}

interface Identity {
  subject: string;
  issuer: string;
  claims: JWTPayload;
}

/** What Fulcio does with the token: check it (signature when the issuer's JWKS is known, audience, expiry). */
async function identityFromToken(
  controlDir: string,
  token: string,
  fulcioUrl: string,
  clientId: string,
): Promise<Identity> {
  const reject = (why: string) =>
    new CliError(
      `getting signer: getting key from Fulcio: retrieving cert: POST ${fulcioUrl}/api/v2/signingCert: 401 Unauthorized: There was an error processing the identity token (stand-in Fulcio: ${why})`,
    );
  let claims: JWTPayload;
  try {
    claims = decodeJwt(token);
  } catch (error) {
    throw reject(`malformed token: ${(error as Error).message}`);
  }
  const jwksPath = join(controlDir, OIDC_JWKS_FILE);
  if (existsSync(jwksPath)) {
    try {
      const jwks = JSON.parse(readFileSync(jwksPath, 'utf8')) as JSONWebKeySet;
      ({ payload: claims } = await jwtVerify(token, createLocalJWKSet(jwks), { audience: clientId }));
    } catch (error) {
      if (error instanceof joseErrors.JWTExpired) throw reject('token is expired');
      if (error instanceof joseErrors.JWTClaimValidationFailed)
        throw reject(`claim "${error.claim}" is invalid: ${error.reason}`);
      throw reject(`signature check failed: ${(error as Error).message}`);
    }
  } else {
    const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    if (!aud.includes(clientId))
      throw reject(`audience ${JSON.stringify(claims.aud)} does not contain "${clientId}"`);
    if (typeof claims.exp === 'number' && claims.exp * 1000 < Date.now()) throw reject('token is expired');
  }
  const issuer = typeof claims.iss === 'string' ? claims.iss : '';
  let subject: string;
  if (typeof claims['job_workflow_ref'] === 'string')
    subject = `${fulcioGithubUrl(typeof claims.iss === 'string' ? claims.iss : '')}/${claims['job_workflow_ref']}`;
  else if (typeof claims['email'] === 'string') subject = claims['email'];
  else subject = typeof claims.sub === 'string' ? claims.sub : '';
  if (!issuer || !subject) throw reject('token has no issuer or subject');
  return { subject, issuer, claims };
}

/**
 * The `url` of Fulcio's GitHub template `{{ .url }}/{{ .job_workflow_ref }}` (sigstore/fulcio ciprovider): the
 * GitHub server its operator configured for the issuer. The world's Fulcio serves the world's GitHub, whose URL
 * each run's GITHUB_SERVER_URL carries (the git server is per test); without one, GitHub's issuer means
 * https://github.com and a GitHub Enterprise Server's (`https://<host>/_services/token`) its origin.
 */
function fulcioGithubUrl(issuer: string): string {
  const server = process.env['GITHUB_SERVER_URL'];
  if (server) return server.replace(/\/+$/, '');
  if (issuer === 'https://token.actions.githubusercontent.com' || !URL.canParse(issuer))
    return 'https://github.com';
  return new URL(issuer).origin;
}

// ---- sign ----

function simpleSigningPayload(
  dockerReference: string,
  digest: string,
  annotations: Record<string, string> | null,
): Buffer {
  return Buffer.from(
    goJson({
      critical: {
        identity: { 'docker-reference': dockerReference },
        image: { 'docker-manifest-digest': digest },
        type: 'cosign container image signature',
      },
      optional: annotations,
    }),
  );
}

function parseAnnotations(items: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const a of items) {
    const eq = a.indexOf('=');
    if (eq < 0) throw new CliError(`unable to parse annotation: ${a}`);
    out[a.slice(0, eq)] = a.slice(eq + 1);
  }
  return out;
}

/** The OCI image config go-containerregistry writes for the signature image: one history entry per layer. */
function signatureConfig(diffIds: string[], created?: string): Buffer {
  const zero = '0001-01-01T00:00:00Z';
  return Buffer.from(
    goJson({
      architecture: '',
      created: created ?? zero,
      history: diffIds.map(() => ({ created: zero })),
      os: '',
      rootfs: { type: 'layers', diff_ids: diffIds },
      config: {},
    }),
  );
}

async function confirm(): Promise<boolean> {
  process.stderr.write('Are you sure you would like to continue? [y/N] ');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) {
    chunks.push(chunk as Buffer);
    if (Buffer.concat(chunks).includes(10)) break;
  }
  const answer = Buffer.concat(chunks).toString('utf8').split('\n')[0]?.replace(/\r$/, '') ?? '';
  if (answer.toLowerCase() === 'y') return true;
  if (answer === '' || answer.toLowerCase() === 'n') return false;
  throw new CliError(`invalid input ${JSON.stringify(answer)} (allowed values y, n)`);
}

async function sign(
  p: Parsed,
  b: ReturnType<typeof baked>,
  fault: ToolFault | undefined,
  deadline: number | undefined,
): Promise<number> {
  if (p.args.length < 1) throw new CliError(`requires at least 1 arg(s), only received ${p.args.length}`);
  const images = p.args;
  const wrap = (e: unknown) => new CliError(`signing ${goList(images)}: ${(e as Error).message}`);
  if (str(p, 'attachment') !== '' && str(p, 'attachment') !== 'sbom') {
    throw new CliError(`specified image attachment ${str(p, 'attachment')} not specified. Can be 'sbom'`);
  }
  const useSigningConfig = pbool(p, 'use-signing-config') || str(p, 'signing-config') !== '';
  if (useSigningConfig && !pbool(p, 'new-bundle-format')) {
    throw new CliError('must provide --new-bundle-format with --signing-config or --use-signing-config');
  }
  if (pbool(p, 'new-bundle-format')) {
    throw new CliError(
      'the cosign stand-in implements only the tag-based signature format: pass --new-bundle-format=false --use-signing-config=false',
    );
  }
  for (const unsupported of ['key', 'certificate', 'payload', 'attachment', 'timestamp-server-url']) {
    if (str(p, unsupported) !== '')
      throw new CliError(`the cosign stand-in only signs keyless; --${unsupported} is not supported`);
  }
  if (pbool(p, 'sk') || pbool(p, 'recursive'))
    throw new CliError('the cosign stand-in does not support --sk or --recursive');
  const annotations = parseAnnotations(list(p, 'annotations'));

  const authority = loadAuthority(b.controlDir, true);
  const fulcioUrl = str(p, 'fulcio-url');
  const clientId = str(p, 'oidc-client-id');
  const tlogUpload = pbool(p, 'tlog-upload');
  const skip = pbool(p, 'yes');

  err('Generating ephemeral keys...');
  err('Retrieving signed certificate...');
  let identity: Identity;
  try {
    identity = await identityFromToken(b.controlDir, await readIdToken(p), fulcioUrl, clientId);
  } catch (error) {
    throw wrap(error);
  }
  if (tlogUpload) {
    err('');
    err('\tNote (stand-in): a real signing records your identity in the public Sigstore transparency log.');
    err('\tBy continuing you agree to that; --yes (or COSIGN_YES=true) skips this question.');
    err('');
    if (!skip) {
      // Without a terminal the stand-in answers "no" at once instead of blocking on a stdin nobody writes to.
      let ok = false;
      if (process.stdin.isTTY) {
        try {
          ok = await confirm();
        } catch (error) {
          throw wrap(error);
        }
      } else process.stderr.write('Are you sure you would like to continue? [y/N] \n');
      if (!ok) throw wrap(new Error('user declined the prompt'));
    }
  }
  const key = ephemeralKey();
  const extensions: Record<string, string> = {};
  if (identity.issuer === 'https://token.actions.githubusercontent.com') {
    for (const [name, , claim] of GITHUB_EXTENSIONS) {
      const v = identity.claims[claim];
      if (typeof v === 'string' && v) extensions[name] = v;
    }
  }
  const certPem = issueCertificate(authority, {
    subject: identity.subject,
    issuer: identity.issuer,
    publicKey: key.publicPem,
    extensions,
  });
  err('Successfully verified SCT...');

  for (const image of images) {
    let ref: Reference;
    try {
      ref = parseImage(image);
    } catch (error) {
      throw wrap(error);
    }
    const client = new RegistryClient(ref.registry, ref.repository, registryOptions(p, deadline, true));
    try {
      const sigRef = signatureRepository(ref);
      const sigClient =
        sigRef === ref
          ? client
          : new RegistryClient(sigRef.registry, sigRef.repository, registryOptions(p, deadline, true));
      let digest = ref.digest;
      if (!digest) {
        warn(
          `Image reference ${image} uses a tag, not a digest, to identify the image to sign.\n    The tag may move to another image between resolving and signing; sign ${repoName(ref)}@<digest> instead.`,
        );
        const head = await client.headManifest(ref.tag ?? 'latest');
        if (!head) throw new Error(`accessing entity: image ${image} not found`);
        digest = head.digest;
      }
      // The signed entity must exist (cosign fetches it before signing).
      await client.getManifest(digest).catch((e: unknown) => {
        throw new Error(`accessing entity: ${(e as Error).message}`);
      });
      const dockerReference = str(p, 'sign-container-identity') || repoName(ref);
      const payload = simpleSigningPayload(
        dockerReference,
        digest,
        Object.keys(annotations).length ? sortedMap(annotations) : null,
      );
      const signature = signPayload(key.privateKey, payload);
      const layerAnnotations: Record<string, string> = {
        [ANN_SIGNATURE]: signature,
        [ANN_CERT]: certPem,
        [ANN_CHAIN]: chainPem(authority),
      };
      if (tlogUpload) {
        const bundle = makeBundle(authority, payload, signature, certPem);
        layerAnnotations[ANN_BUNDLE] = goJson(bundle);
        err(`tlog entry created with index: ${bundle.Payload.logIndex}`);
      }
      if (str(p, 'output-signature')) writeFileSync(str(p, 'output-signature'), signature);
      if (str(p, 'output-payload')) writeFileSync(str(p, 'output-payload'), payload);
      if (str(p, 'output-certificate')) writeFileSync(str(p, 'output-certificate'), certPem);
      if (!pbool(p, 'upload')) continue;

      const sigTag = `${str(p, 'attachment-tag-prefix')}${signatureTag(digest)}`;
      const existing = await sigClient.getManifest(sigTag, true);
      let layers: Descriptor[] = [];
      if (existing) {
        const parsed = JSON.parse(existing.body.toString('utf8')) as { layers?: Descriptor[] };
        layers = parsed.layers ?? [];
      }
      const payloadDigest = sha256Digest(payload);
      layers = [
        ...layers,
        {
          mediaType: SIMPLESIGNING,
          size: payload.length,
          digest: payloadDigest,
          annotations: layerAnnotations,
        },
      ];
      const created = pbool(p, 'record-creation-timestamp')
        ? new Date().toISOString().replace(/\.\d{3}Z$/, 'Z')
        : undefined;
      const config = signatureConfig(
        layers.map((l) => l.digest),
        created,
      );
      await sigClient.uploadBlob(payloadDigest, payload);
      await sigClient.uploadBlob(sha256Digest(config), config);
      err(`Pushing signature to: ${repoName(sigRef)}`);
      await sigClient.putManifest(
        sigTag,
        manifestBytes({
          mediaType: OCI_MANIFEST,
          config: { mediaType: OCI_CONFIG, size: config.length, digest: sha256Digest(config) },
          layers,
        }),
        OCI_MANIFEST,
      );
    } catch (error) {
      if (error instanceof CliError) throw error;
      throw wrap(error instanceof DeadlineError ? new Error('context deadline exceeded') : error);
    }
  }
  if (fault?.mode === 'exit1-after-work') {
    throw new CliError(
      fault.message ?? `signing ${goList(images)}: injected failure after the signature was pushed`,
    );
  }
  return 0;
}

function goList(items: readonly string[]): string {
  return `[${items.join(' ')}]`;
}

// ---- verify ----

interface Verified {
  payload: Buffer;
  cert: CertBody;
  bundle?: RekorBundle;
}

/** From v2.6.2 and v3.0.4 (sigstore/cosign#4624) VerifyBundle always compares signature and key with the entry. */
function bindsBundleToKey(version: string): boolean {
  const [major = 0, minor = 0, patch = 0] = version.split(/[.-]/).map(Number);
  if (major === 2) return minor > 6 || (minor === 6 && patch >= 2);
  if (major === 3) return minor > 0 || patch >= 4;
  return major > 3;
}

function matches(value: string, exact: string, regexp: string): boolean {
  if (exact) return value === exact;
  if (regexp) return new RegExp(regexp).test(value);
  return true;
}

async function verify(
  p: Parsed,
  b: ReturnType<typeof baked>,
  fault: ToolFault | undefined,
  deadline: number | undefined,
): Promise<number> {
  if (p.args.length < 1) throw new CliError(`requires at least 1 arg(s), only received ${p.args.length}`);
  if (str(p, 'key') !== '')
    throw new CliError('the cosign stand-in only verifies keyless signatures; --key is not supported');
  const identityExact = str(p, 'certificate-identity');
  const identityRe = str(p, 'certificate-identity-regexp');
  const issuerExact = str(p, 'certificate-oidc-issuer');
  const issuerRe = str(p, 'certificate-oidc-issuer-regexp');
  if (!identityExact && !identityRe) {
    throw new CliError(
      '--certificate-identity or --certificate-identity-regexp is required for verification in keyless mode',
    );
  }
  if (!issuerExact && !issuerRe) {
    throw new CliError(
      '--certificate-oidc-issuer or --certificate-oidc-issuer-regexp is required for verification in keyless mode',
    );
  }
  for (const re of [identityRe, issuerRe]) {
    if (!re) continue;
    try {
      new RegExp(re);
    } catch (error) {
      throw new CliError(`malformed subject in identity: ${re} : ${(error as Error).message}`);
    }
  }
  if (pbool(p, 'new-bundle-format') && p.changed.has('new-bundle-format')) {
    throw new CliError('the cosign stand-in verifies only tag-based signatures; drop --new-bundle-format');
  }
  if (pbool(p, 'insecure-ignore-tlog')) {
    warn(
      'Skipping tlog verification is an insecure practice that lacks transparency and auditability verification for the signature.',
    );
  }
  if (fault?.mode === 'verify-fail') {
    if (fault.exitCode === 10) throw new CosignError(fault.message ?? 'no signatures found', 10);
    throw new CosignError(
      fault.message ??
        `no matching signatures: none of the expected identities matched what was in the certificate, got subjects [injected-failure] with issuer ${issuerExact || issuerRe}`,
      12,
    );
  }
  const wanted = parseAnnotations(list(p, 'annotations'));
  const ghChecks: [string, string][] = [
    ['githubWorkflowTrigger', str(p, 'certificate-github-workflow-trigger')],
    ['githubWorkflowSha', str(p, 'certificate-github-workflow-sha')],
    ['githubWorkflowName', str(p, 'certificate-github-workflow-name')],
    ['githubWorkflowRepository', str(p, 'certificate-github-workflow-repository')],
    ['githubWorkflowRef', str(p, 'certificate-github-workflow-ref')],
  ];
  const authority = loadAuthority(b.controlDir, false);
  const ignoreTlog = pbool(p, 'insecure-ignore-tlog');
  const output = str(p, 'output');

  for (const image of p.args) {
    const ref = parseImage(image);
    const client = new RegistryClient(ref.registry, ref.repository, registryOptions(p, deadline, false));
    let digest = ref.digest;
    if (!digest) {
      // ociremote.ResolveDigest: a tag is looked up with remote.Get (a GET); a digest reference never is.
      try {
        digest = (await client.getManifest(ref.tag ?? 'latest')).digest;
      } catch (error) {
        if (error instanceof RegistryError && error.status === 404) {
          throw new CosignError(`image tag not found: ${error.message}`, 11);
        }
        throw error;
      }
    }
    const sigRef = signatureRepository(ref);
    const sigClient =
      sigRef === ref
        ? client
        : new RegistryClient(sigRef.registry, sigRef.repository, registryOptions(p, deadline, false));
    const sigManifest = await sigClient.getManifest(
      `${str(p, 'attachment-tag-prefix')}${signatureTag(digest)}`,
      true,
    );
    const layers = sigManifest
      ? ((JSON.parse(sigManifest.body.toString('utf8')) as { layers?: Descriptor[] }).layers ?? [])
      : [];
    if (layers.length === 0) throw new CosignError('no signatures found', 10);

    const verified: Verified[] = [];
    const failures: string[] = [];
    for (const layer of layers) {
      try {
        const ann = layer.annotations ?? {};
        const signature = ann[ANN_SIGNATURE] ?? '';
        const certPem = ann[ANN_CERT];
        const payload = await sigClient.getBlob(layer.digest);
        // verifyInternal's order: the transparency log first, then the certificate, then the signature.
        let bundle: RekorBundle | undefined;
        let at = Date.now();
        if (!ignoreTlog) {
          if (ann[ANN_BUNDLE]) {
            bundle = JSON.parse(ann[ANN_BUNDLE]) as RekorBundle;
            if (certPem) checkBundle(authority, bundle, payload, signature, certPem);
            // Since #4624 VerifyBundle compares the entry's key with the signature's certificate before the SET.
            else if (bindsBundleToKey(b.version))
              throw new Error('error verifying bundle: nil certificate provided');
            else checkSet(authority, bundle);
            at = bundle.Payload.integratedTime * 1000;
          } else if (!certPem) {
            // The online Rekor look-up needs the certificate's PEM first (cryptoutils.MarshalCertificateToPEM).
            throw new Error('nil certificate provided');
          } else {
            throw new Error('signature not found in transparency log');
          }
        }
        // ErrNoCertificateFoundOnSignature (exit 13 alone), but verifySignatures folds it into "no matching signatures".
        if (!certPem) throw new Error('no certificate found on signature');
        const cert = readCertificate(authority, certPem);
        if (!verifyPayload(cert.publicKey, payload, signature))
          throw new Error('invalid signature when validating ASN.1 encoded signature');
        if (at < Date.parse(cert.notBefore) || at > Date.parse(cert.notAfter)) {
          // Without the log (and no RFC 3161 timestamp) only the current time is left to check the certificate at.
          if (ignoreTlog) throw new Error('expected a signed timestamp to verify an expired certificate');
          throw new Error(
            `certificate expired before signatures were entered in log: ${new Date(at).toISOString()} is after ${cert.notAfter}`,
          );
        }
        if (
          !matches(cert.issuer, issuerExact, issuerRe) ||
          !matches(cert.subject, identityExact, identityRe)
        ) {
          throw new Error(
            `none of the expected identities matched what was in the certificate, got subjects [${cert.subject}] with issuer ${cert.issuer}`,
          );
        }
        for (const [name, want] of ghChecks) {
          if (want && cert.extensions[name] !== want) {
            throw new Error(
              `expected GitHub Workflow ${name.replace('githubWorkflow', '')} not found in certificate`,
            );
          }
        }
        const simple = JSON.parse(payload.toString('utf8')) as {
          critical?: { image?: { 'docker-manifest-digest'?: string } };
          optional?: Record<string, unknown> | null;
        };
        if (pbool(p, 'check-claims')) {
          const claimed = simple.critical?.image?.['docker-manifest-digest'];
          if (claimed !== digest) throw new Error(`invalid or missing digest in claim: ${claimed ?? ''}`);
          for (const [k, v] of Object.entries(wanted)) {
            if (simple.optional?.[k] !== v) throw new Error('missing or incorrect annotation');
          }
        }
        verified.push(bundle ? { payload, cert, bundle } : { payload, cert });
      } catch (error) {
        failures.push((error as Error).message);
      }
    }
    if (verified.length === 0) throw new CosignError(`no matching signatures: ${failures.join('\n ')}`, 12);

    const name = ref.digest ? `${repoName(ref)}@${ref.digest}` : `${repoName(ref)}:${ref.tag}`;
    err('');
    err(`Verification for ${name} --`);
    err('The following checks were performed on each of these signatures:');
    if (pbool(p, 'check-claims')) {
      if (Object.keys(wanted).length) err('  - The specified annotations were verified.');
      err('  - The cosign claims were validated');
    }
    if (verified.some((v) => v.bundle))
      err('  - Existence of the claims in the transparency log was verified offline');
    err('  - The code-signing certificate was verified using trusted certificate authority certificates');
    printVerified(verified, output);
  }
  if (fault?.mode === 'exit1-after-work')
    throw new CliError(fault.message ?? 'injected failure after verification');
  return 0;
}

function printVerified(verified: Verified[], output: string): void {
  if (output === 'text') {
    for (const v of verified) {
      err(`Certificate subject: ${v.cert.subject}`);
      err(`Certificate issuer URL: ${v.cert.issuer}`);
      const ext = v.cert.extensions;
      if (ext['githubWorkflowTrigger']) err(`GitHub Workflow Trigger: ${ext['githubWorkflowTrigger']}`);
      if (ext['githubWorkflowSha']) err(`GitHub Workflow SHA: ${ext['githubWorkflowSha']}`);
      if (ext['githubWorkflowName']) err(`GitHub Workflow Name: ${ext['githubWorkflowName']}`);
      if (ext['githubWorkflowRepository'])
        err(`GitHub Workflow Repository: ${ext['githubWorkflowRepository']}`);
      if (ext['githubWorkflowRef']) err(`GitHub Workflow Ref: ${ext['githubWorkflowRef']}`);
      process.stdout.write(`${v.payload.toString('utf8')}\n`);
    }
    return;
  }
  const items = verified.map((v) => {
    const simple = JSON.parse(v.payload.toString('utf8')) as {
      critical?: {
        identity?: { 'docker-reference'?: string };
        image?: { 'docker-manifest-digest'?: string };
        type?: string;
      };
      optional?: Record<string, unknown> | null;
    };
    const optional: Record<string, unknown> = { ...(simple.optional ?? {}) };
    optional['Subject'] = v.cert.subject;
    optional['Issuer'] = v.cert.issuer;
    optional[OID_ISSUER] = v.cert.issuer;
    for (const [name, oid] of GITHUB_EXTENSIONS) {
      const value = v.cert.extensions[name];
      if (value) {
        optional[name] = value;
        optional[oid] = value;
      }
    }
    if (v.bundle) optional['Bundle'] = v.bundle;
    const sorted: Record<string, unknown> = {};
    for (const k of Object.keys(optional).sort()) sorted[k] = optional[k];
    return {
      critical: {
        identity: { 'docker-reference': simple.critical?.identity?.['docker-reference'] ?? '' },
        image: { 'docker-manifest-digest': simple.critical?.image?.['docker-manifest-digest'] ?? '' },
        type: simple.critical?.type ?? '',
      },
      optional: sorted,
    };
  });
  process.stdout.write(`\n${goJson(items)}\n`);
}

// ---- version ----

function version(p: Parsed, b: ReturnType<typeof baked>): number {
  const info = {
    gitVersion: `v${b.version}`,
    gitCommit: 'standin0000000000000000000000000000000000',
    gitTreeState: 'clean',
    buildDate: '2025-01-01T00:00:00Z',
    goVersion: 'go1.24.6',
    compiler: 'gc',
    platform: `linux/${b.arch}`,
  };
  if (pbool(p, 'json')) {
    process.stdout.write(
      `${JSON.stringify({ ...info, name: 'cosign', description: 'A tool for Container Signing, Verification and Storage in an OCI registry.' }, null, 2)}\n`,
    );
    return 0;
  }
  const lines = [
    '  COSIGN (stand-in)',
    '',
    'cosign: A tool for Container Signing, Verification and Storage in an OCI registry.',
    '',
    `GitVersion:    ${info.gitVersion}`,
    `GitCommit:     ${info.gitCommit}`,
    `GitTreeState:  ${info.gitTreeState}`,
    `BuildDate:     ${info.buildDate}`,
    `GoVersion:     ${info.goVersion}`,
    `Compiler:      ${info.compiler}`,
    `Platform:      ${info.platform}`,
    '',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}

function goLogTime(): string {
  const d = new Date();
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}/${p(d.getMonth() + 1)}/${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

async function main(rawArgv: string[]): Promise<number> {
  const b = baked();
  checkArch(b, 'cosign');
  const argv = fixupArgs(rawArgv);
  const v3 = Number(b.version.split('.')[0]) >= 3;
  const all = [...ROOT_FLAGS, ...signFlags(v3), ...verifyFlags(v3), ...VERSION_FLAGS];
  const boolNames = new Set(
    all.filter((f) => f.kind === 'bool').flatMap((f) => (f.short ? [f.name, f.short] : [f.name])),
  );
  const { path, rest } = findCommandPath(argv, TREE, boolNames);
  const command = path.join(' ');
  const leaf =
    command === 'sign'
      ? signFlags(v3)
      : command === 'verify'
        ? verifyFlags(v3)
        : command === 'version'
          ? VERSION_FLAGS
          : [];
  const specs = [...ROOT_FLAGS, ...leaf];
  let p: Parsed;
  try {
    p = parsePflag(rest, specs, { normalize: (n) => NORMALIZE[n] ?? n });
  } catch (error) {
    logCall(b, 'cosign', rawArgv, command);
    if (error instanceof HelpRequested) {
      process.stdout.write(
        `Stand-in for cosign (test world). Emulated: cosign sign, cosign verify, cosign version.\n`,
      );
      return 0;
    }
    throw error;
  }
  bindEnv(p, specs);
  // The token source is known from flags and environment alone, so it is logged even when signing fails later.
  logCall(b, 'cosign', rawArgv, command, command === 'sign' ? { tokenSource: tokenSource(p) } : {});
  if (path.length === 0) {
    if (p.args.length > 0) throw new CliError(`unknown command ${JSON.stringify(p.args[0])} for "cosign"`);
    process.stdout.write(
      'Stand-in for cosign (test world). Emulated: cosign sign, cosign verify, cosign version.\n',
    );
    return 0;
  }
  if (command === 'version') return version(p, b);
  if (command === 'help') {
    process.stdout.write(
      'Stand-in for cosign (test world). Emulated: cosign sign, cosign verify, cosign version.\n',
    );
    return 0;
  }
  if (command !== 'sign' && command !== 'verify')
    throw new CliError(`the cosign stand-in does not implement \`cosign ${command}\``);
  if (p.args.length < 1) throw new CliError(`requires at least 1 arg(s), only received 0`);
  const fault = takeFault(b, 'cosign', command);
  if (fault?.mode === 'hang') await hangForever();
  if (fault?.mode === 'fail') throw new CliError(fault.message ?? `injected failure before ${command}`);
  const timeout = p.values.get('timeout') as number;
  const deadline = timeout > 0 ? Date.now() + timeout : undefined;
  return command === 'sign' ? sign(p, b, fault, deadline) : verify(p, b, fault, deadline);
}

main(process.argv.slice(2)).then(
  (code) => exitAfterFlush(code),
  (error: unknown) => {
    const message =
      error instanceof DeadlineError
        ? 'context deadline exceeded'
        : error instanceof Error
          ? error.message
          : String(error);
    // cobra prints "Error: ..." (SilenceErrors is off), then main() logs the same error with a timestamp.
    err(`Error: ${message}`);
    err(`${goLogTime()} error during command execution: ${message}`);
    return exitAfterFlush(error instanceof CosignError ? error.code : 1);
  },
);
