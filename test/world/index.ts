// The test world: real registries, emulated AWS/Teleport/GitHub/mirror servers on loopback, started and stopped together.
import { rmSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Counters } from './counters.ts';
import { type EcrApi, ecrTarget, startEcrApi } from './ecr/index.ts';
import { type EcrCall, EcrRecorder, type RegistryCall, type RegistryToken } from './ecr/recorder.ts';
import {
  ACCOUNT_PATTERN,
  DEFAULT_ACCOUNT,
  type ExclusionFilter,
  type Mutability,
  RegionTokens,
  Registries,
  RegistryState,
  type RepositoryMeta,
} from './ecr/state.ts';
import { Faults } from './faults.ts';
import type { Listener } from './https-server.ts';
import { lifetimeSeconds } from './lifetime.ts';
import { type Mirror, startMirror } from './mirror.ts';
import { deleteManifest, getManifest, pushTinyImage } from './oci.ts';
import { oidcSigningKey, startOidc } from './oidc.ts';
import { ensurePrereqs } from './prereqs.ts';
import {
  ecrRegistryHost,
  PRODUCTION_TELEPORT_FQDN,
  productionCertNames,
  productionOidcUrl,
  routeProductionNames,
} from './production.ts';
import { type ForwardProxy, PROXY_TARGET, type ProxyOptions, startProxy } from './proxy.ts';
import { publishRealTools, REAL_TOOLS } from './real-tools.ts';
import { type RegistryProcess, startRegistry } from './registry.ts';
import { registryTarget, startBlobHost, startRegistryFront } from './registry-front.ts';
import { type ToolDelays, writeOidcJwks, writeToolDelays } from './standins/control.ts';
import { publishStandins } from './standins/publish.ts';
import { DEFAULT_ROLE_ARN, roleParts, type StsServer, startSts } from './sts.ts';
import { type IssuedSvid, startTeleport, type TeleportServer, type TeleportVersions } from './teleport.ts';
import { makeTls } from './tls.ts';

export type { CounterSnapshot } from './counters.ts';
export { Counters } from './counters.ts';
export type { EcrCall, RegistryAuth, RegistryCall, RegistryToken } from './ecr/recorder.ts';
export type { ExclusionFilter, Mutability, RepositoryMeta } from './ecr/state.ts';
export { DEFAULT_ACCOUNT } from './ecr/state.ts';
export type { Fault, FaultKind, FaultSpec } from './faults.ts';
export { Faults } from './faults.ts';
export { MIRROR_PATHS } from './mirror.ts';
export { GITHUB_OIDC_ISSUER } from './oidc.ts';
export { ensurePrereqs } from './prereqs.ts';
export {
  ecrApiHost,
  ecrRegistryHost,
  PRODUCTION_OIDC_HOST,
  PRODUCTION_TELEPORT_FQDN,
  type RegistryFrontAddress,
  routeRegistryFront,
  stsHost,
} from './production.ts';
export type { ForwardProxy, ProxyAuth, ProxyOptions, ProxyRequest } from './proxy.ts';
export { downProxyUrl, PROXY_TARGET } from './proxy.ts';
export { liveRegistryPids } from './registry.ts';
export { registryTarget } from './registry-front.ts';
export type { ToolDelays } from './standins/control.ts';
export { DEFAULT_ROLE_ARN } from './sts.ts';
export type { IssuedSvid } from './teleport.ts';
export { sampleJoinBody, TELEPORT_JOIN_AUDIENCE } from './teleport.ts';

export const PRIMARY_REGION = 'us-west-2';
export const SECONDARY_REGION = 'eu-central-1';

/** Versions the stand-in tools are published under; not pinned in the action, so it takes the checksum-file path. */
export const STANDIN_VERSIONS = { flux: '2.99.0', cosign: '2.99.0', teleport: '17.99.0' } as const;
export type StandinVersions = { flux: string; cosign: string; teleport: string };

/** Counter/fault targets by name. */
export const TARGETS = {
  ecr: 'ecr',
  ecrSecondary: 'ecr-secondary',
  sts: 'sts',
  teleport: 'teleport',
  oidc: 'oidc',
  mirror: 'mirror',
  proxy: PROXY_TARGET,
  /** A registry front; `account` only for fronts of accounts other than DEFAULT_ACCOUNT. */
  registry: (region: string, account?: string) => registryTarget(region, account),
} as const;

export interface WorldOptions {
  /** A second region with its own registry and front, e.g. 'eu-central-1'. */
  secondary?: string;
  /**
   * Accounts (12 digits) with a registry and a front in every region besides DEFAULT_ACCOUNT (and the role's
   * account), each with its own repositories, as every AWS account has its own ECR registry per region.
   */
  accounts?: string[];
  /** What /webapi/find reports; default both STANDIN_VERSIONS.teleport. toolsVersion null leaves it out. */
  teleport?: TeleportVersions;
  /** Join tokens Teleport accepts; default image-push-github-actions-sample-service. */
  allowedJoinTokens?: string[];
  /** Workload identity selectors Teleport accepts; default image-push. */
  allowedWorkloadIdentities?: string[];
  /** The only role STS lets the JWT assume; default DEFAULT_ROLE_ARN. */
  roleArn?: string;
  /** GitHub OIDC claims. */
  repository?: string;
  ref?: string;
  sha?: string;
  jobWorkflowRef?: string;
  /** The GitHub OIDC issuer (tokens, Teleport's join check): a GitHub Enterprise Server's `https://<host>/_services/token`. */
  githubIssuer?: string;
  /** Registry fronts answer reads of content they lack from the other region's registry (DescribeImages stays honest). */
  lyingPullThrough?: boolean;
  /** Publish the stand-in tools on the mirror (default true). */
  publishStandins?: boolean;
  /** Keep the world directory after stop() (default: removed unless TEST_WORLD_KEEP=1). */
  keepDir?: boolean;
  /** The mirror's per-download rate in bytes per second (the benchmark's bandwidth); default unlimited. */
  mirrorBytesPerSecond?: number;
  /** Extra time each stand-in command's work takes (the benchmark's latency model); default none. */
  toolDelays?: ToolDelays;
  // Short lifetimes, for credential-refresh tests; each also has a runtime setter (world.sts / teleport / ecr).
  /** AssumeRoleWithWebIdentity credentials live this many seconds, whatever DurationSeconds asks (default 3600). */
  stsCredentialSeconds?: number;
  /** JWT SVIDs Teleport gives tbot live this many seconds (default 3600). */
  svidSeconds?: number;
  /** Registry tokens GetAuthorizationToken issues live this many seconds (default ECR's 12 hours). */
  registryTokenSeconds?: number;
  /** Start a forward proxy (world.proxy); env() then sets HTTPS_PROXY. Options require Basic auth, etc. */
  proxy?: boolean | ProxyOptions;
  /**
   * Production names: the proxy is started and maps sts/api.ecr/<account>.dkr.ecr .amazonaws.com, teleport.maestra.io,
   * github.com, cdn.teleport.dev and the OIDC host to the emulators; registryHost, teleportFqdn and oidc.requestUrl
   * are the production values, mirrorUrl is '' (no tool-mirror), and env() sets no AWS_ENDPOINT_URL_*.
   */
  productionNames?: boolean;
}

/** One registry front: the stand-in for `<account>.dkr.ecr.<region>.amazonaws.com`. */
export interface RegistryFront {
  account: string;
  region: string;
  /** `127.0.0.1:<port>`. */
  host: string;
}

export interface SeededImage {
  digest: string;
  mediaType: string;
}

export interface WorldOidc {
  /** ACTIONS_ID_TOKEN_REQUEST_URL (already carries `?api-version=2.0`). */
  readonly requestUrl: string;
  /** ACTIONS_ID_TOKEN_REQUEST_TOKEN. */
  readonly requestToken: string;
  readonly issuer: string;
  /** JWKS of the issuer, as a file for child processes. */
  readonly jwksFile: string;
  claims(): Record<string, unknown>;
  setClaims(patch: Record<string, unknown>): void;
  mint(audience: string, extra?: Record<string, unknown>, expiresInSeconds?: number): Promise<string>;
}

export interface WorldTeleport {
  /** host:port, the `teleport-fqdn` input. */
  readonly fqdn: string;
  /** Issuer of the JWT SVIDs (`https://<fqdn>`), the one STS trusts. */
  readonly issuer: string;
  readonly jwksFile: string;
  setVersions(versions: TeleportVersions): void;
  /** Lifetime of the SVIDs issued from now on (tbot's and mintSvid's default); undefined restores 3600 s. */
  setSvidLifetime(seconds?: number): void;
  mintSvid(audiences: string[], expiresInSeconds?: number, subject?: string): Promise<string>;
  /** Every SVID issued so far (`via: 'join'` are tbot's), without the JWTs. */
  svids(): IssuedSvid[];
}

/** A credential AssumeRoleWithWebIdentity issued (its secrets are in world.secrets()). */
export interface IssuedCredential {
  readonly accessKeyId: string;
  readonly roleArn: string;
  readonly sessionName: string;
  readonly issuedAt: Date;
  readonly expiration: Date;
}

export interface WorldSts {
  /** AWS_ENDPOINT_URL_STS. */
  readonly endpoint: string;
  /** Lifetime of the credentials issued from now on, whatever DurationSeconds asks; undefined restores it. */
  setCredentialLifetime(seconds?: number): void;
  /** Every credential issued so far, oldest first. */
  credentials(): IssuedCredential[];
  /** The whole credential issued under this access key, secrets included, for a test that signs its own calls. */
  keysOf(
    accessKeyId: string,
  ): { accessKeyId: string; secretAccessKey: string; sessionToken: string } | undefined;
}

export interface WorldEcr {
  /** AWS_ENDPOINT_URL_ECR. */
  readonly endpoint: string;
  /** Lifetime of the registry tokens issued from now on; undefined restores ECR's 12 hours. */
  setTokenLifetime(seconds?: number): void;
  /** Every ECR API request so far (both regions), oldest first, with the access key that signed it. */
  calls(): EcrCall[];
  /** Every registry token issued so far, with the access key that asked for it. */
  tokens(): RegistryToken[];
  /** Every request to a registry front so far, with its auth outcome and the access key behind its token. */
  registryCalls(): RegistryCall[];
}

export interface World {
  readonly dir: string;
  /** The world's CA (PEM): NODE_EXTRA_CA_CERTS for the action, SSL_CERT_FILE for child tools. */
  readonly caFile: string;
  /** Primary region, always us-west-2. */
  readonly region: string;
  /** DEFAULT_ACCOUNT: the account whose fronts registryHost / secondaryRegistryHost are; the default of `account` arguments. */
  readonly account: string;
  /** Every account with registries, DEFAULT_ACCOUNT first. */
  readonly accounts: readonly string[];
  readonly secondaryRegion?: string;
  /** host:port of the primary registry front: the `ecr-registry` input. */
  readonly registryHost: string;
  readonly secondaryRegistryHost?: string;
  /** host:port of the Teleport proxy: the `teleport-fqdn` input. */
  readonly teleportFqdn: string;
  /** The `tool-mirror` input. */
  readonly mirrorUrl: string;
  /** Directory the mirror serves. */
  readonly mirrorRoot: string;
  /** The mirror itself: `publish(relativePath, bytes)` puts a file at `<mirrorUrl>/<relativePath>`. */
  readonly mirror: Pick<Mirror, 'url' | 'root' | 'publish'>;
  /** Control directory of the stand-in tools (faults.json, calls.jsonl, keys). */
  readonly controlDir: string;
  readonly standinVersions: StandinVersions;
  /** Whether the stand-ins were published on the mirror (options.publishStandins). */
  readonly standinsPublished: boolean;
  /** The role STS lets the JWT assume: the `aws-role-arn` input. */
  readonly roleArn: string;
  /** AWS_ENDPOINT_URL_ECR / AWS_ENDPOINT_URL_STS values. */
  readonly ecrEndpoint: string;
  readonly stsEndpoint: string;
  readonly oidc: WorldOidc;
  readonly teleport: WorldTeleport;
  readonly sts: WorldSts;
  readonly ecr: WorldEcr;
  readonly faults: Faults;
  readonly counters: Counters;
  /** Whether the world answers under production names (options.productionNames). */
  readonly productionNames: boolean;
  /** The forward proxy, when options.proxy or options.productionNames started one (stopped with the world). */
  readonly proxy?: Omit<ForwardProxy, 'close'>;
  /** Environment the action (and its tools) need to live in this world. */
  env(): Record<string, string>;
  // Every `account` argument below defaults to DEFAULT_ACCOUNT; an account the world lacks throws.
  /** Creates the repository (MUTABLE if absent) and pushes a tiny real OCI image under `tag` straight into the registry. */
  seedImage(region: string, repository: string, tag: string, account?: string): Promise<SeededImage>;
  /** Creates a repository as CreateRepository would; filters are wildcard strings (or ECR filter objects). */
  createRepository(
    region: string,
    name: string,
    mutability?: Mutability,
    filters?: ReadonlyArray<string | ExclusionFilter>,
    account?: string,
  ): RepositoryMeta;
  repositories(region: string, account?: string): RepositoryMeta[];
  /** Digest a tag points at in the registry, or undefined. */
  tagDigest(region: string, repository: string, tag: string, account?: string): Promise<string | undefined>;
  /** Deletes the image a tag points at (the way `aws ecr batch-delete-image` by tag does for a single-tag image). */
  deleteImage(region: string, repository: string, tag: string, account?: string): Promise<boolean>;
  /** Raw registry URL (http, no auth, no ECR rules) for tests to inspect. */
  registry(region: string, account?: string): string;
  /** host:port of an account's registry front in a region. */
  registryFront(region: string, account?: string): string;
  /** Every registry front of the world: one per (account, region). */
  registryFronts(): RegistryFront[];
  /** Every secret value the world issued so far. */
  secrets(): string[];
  stop(): Promise<void>;
}

// World dirs not yet removed by stop(): removed when the process exits anyway (a test that crashed or forgot stop()).
const liveDirs = new Set<string>();
let exitHookInstalled = false;
function removeDirAtExit(dir: string): void {
  liveDirs.add(dir);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const d of liveDirs) rmSync(d, { recursive: true, force: true });
  });
}

export async function startWorld(options: WorldOptions = {}): Promise<World> {
  // Bad options fail before anything starts.
  lifetimeSeconds('stsCredentialSeconds', options.stsCredentialSeconds);
  lifetimeSeconds('svidSeconds', options.svidSeconds);
  lifetimeSeconds('registryTokenSeconds', options.registryTokenSeconds);
  const badAccount = (options.accounts ?? []).find((a) => !ACCOUNT_PATTERN.test(a));
  if (badAccount !== undefined) throw new Error(`accounts: '${badAccount}' is not a 12-digit AWS account id`);
  const key = oidcSigningKey();
  await ensurePrereqs();
  const dir = await mkdtemp(join(tmpdir(), 'bake-world-'));
  const keepDir = options.keepDir ?? process.env['TEST_WORLD_KEEP'] === '1';
  if (!keepDir) removeDirAtExit(dir);
  const controlDir = join(dir, 'standin-control');
  const mirrorRoot = join(dir, 'mirror');
  const counters = new Counters();
  const faults = new Faults();
  const listeners: Pick<Listener, 'close'>[] = [];
  const registries: RegistryProcess[] = [];
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      faults.releaseHung();
      await Promise.allSettled([...listeners.map((l) => l.close()), ...registries.map((r) => r.stop())]);
      if (!keepDir) await rm(dir, { recursive: true, force: true });
      liveDirs.delete(dir);
    })();
    return stopping;
  };
  const track = <T extends { listener: Listener }>(server: T): T => {
    listeners.push(server.listener);
    return server;
  };
  const trackRegistry = (registry: RegistryProcess) => {
    registries.push(registry);
    return registry;
  };

  try {
    await mkdir(controlDir, { recursive: true });
    const regionNames = [PRIMARY_REGION, ...(options.secondary ? [options.secondary] : [])];
    if (new Set(regionNames).size !== regionNames.length)
      throw new Error('secondary region must differ from us-west-2');
    const roleAccount = roleParts(options.roleArn ?? DEFAULT_ROLE_ARN).account;
    const accounts = [
      ...new Set([DEFAULT_ACCOUNT, ...(roleAccount ? [roleAccount] : []), ...(options.accounts ?? [])]),
    ];
    const tokens = new Map(regionNames.map((name) => [name, new RegionTokens(name)]));
    // One docker-registry per (account, region): separate storage, as separate registries are.
    const startOne = async (account: string, region: string) => {
      const home = account === DEFAULT_ACCOUNT ? dir : join(dir, `account-${account}`);
      const started = trackRegistry(await startRegistry(home, region));
      const target = registryTarget(region, account);
      return new RegistryState(account, region, started, tokens.get(region) as RegionTokens, target);
    };
    const [tls, , registryList, standinsPublished] = await Promise.all([
      makeTls(dir, options.productionNames ? productionCertNames(regionNames) : []),
      key,
      Promise.all(accounts.flatMap((account) => regionNames.map((region) => startOne(account, region)))),
      options.publishStandins === false
        ? false
        : publishStandins(mirrorRoot, STANDIN_VERSIONS, controlDir).then(() => true),
    ]);
    const registries = new Registries(registryList);
    const recorder = new EcrRecorder();

    const [oidc, mirror, blobs] = await Promise.all([
      startOidc(dir, tls, counters, faults, {
        ...(options.repository ? { repository: options.repository } : {}),
        ...(options.ref ? { ref: options.ref } : {}),
        ...(options.sha ? { sha: options.sha } : {}),
        ...(options.jobWorkflowRef ? { jobWorkflowRef: options.jobWorkflowRef } : {}),
        ...(options.githubIssuer ? { issuer: options.githubIssuer } : {}),
      }).then(track),
      startMirror(
        mirrorRoot,
        tls,
        counters,
        faults,
        options.mirrorBytesPerSecond ? { bytesPerSecond: options.mirrorBytesPerSecond } : {},
      ).then(track),
      startBlobHost(tls, counters, faults).then(track),
    ]);
    writeOidcJwks(controlDir, oidc.jwks);
    if (options.toolDelays) writeToolDelays(controlDir, options.toolDelays);
    if (REAL_TOOLS && standinsPublished)
      await publishRealTools((path, bytes) => mirror.publish(path, bytes), STANDIN_VERSIONS);
    const teleport: TeleportServer = track(
      await startTeleport(
        dir,
        tls,
        counters,
        faults,
        oidc.jwks,
        { serverVersion: STANDIN_VERSIONS.teleport, toolsVersion: STANDIN_VERSIONS.teleport },
        {
          ...options.teleport,
          ...(options.allowedJoinTokens ? { allowedJoinTokens: options.allowedJoinTokens } : {}),
          ...(options.allowedWorkloadIdentities
            ? { allowedWorkloadIdentities: options.allowedWorkloadIdentities }
            : {}),
          ...(options.svidSeconds === undefined ? {} : { svidSeconds: options.svidSeconds }),
          ...(options.githubIssuer ? { githubIssuer: options.githubIssuer } : {}),
        },
      ),
    );
    const sts: StsServer = track(
      await startSts(tls, counters, faults, teleport, {
        ...(options.roleArn ? { roleArn: options.roleArn } : {}),
        ...(options.stsCredentialSeconds === undefined
          ? {}
          : { credentialSeconds: options.stsCredentialSeconds }),
      }),
    );
    const [ecr] = await Promise.all([
      startEcrApi(
        tls,
        counters,
        faults,
        registries,
        PRIMARY_REGION,
        sts,
        recorder,
        options.registryTokenSeconds === undefined ? {} : { tokenSeconds: options.registryTokenSeconds },
      ).then(track) as Promise<EcrApi>,
      ...registryList.map(async (registry) => {
        const others = options.lyingPullThrough
          ? registryList.filter((r) => r.account === registry.account && r !== registry)
          : [];
        listeners.push(
          await startRegistryFront(tls, counters, faults, registry, blobs, {
            pullThroughFrom: others,
            recorder,
          }),
        );
      }),
    ]);

    // Proxy and production names: started last, once every server it routes to has its port.
    const proxyOptions = typeof options.proxy === 'object' ? options.proxy : {};
    const proxy: ForwardProxy | undefined =
      options.proxy || options.productionNames ? await startProxy(counters, faults, proxyOptions) : undefined;
    if (proxy) listeners.push(proxy);
    const proxyUrl =
      proxy && proxyOptions.auth
        ? proxy.urlWithCredentials(proxyOptions.auth.username, proxyOptions.auth.password)
        : proxy?.url;
    if (proxy && options.productionNames) {
      routeProductionNames(proxy, {
        regions: regionNames,
        sts: sts.listener.host,
        ecr: ecr.listener.host,
        teleport: teleport.listener.host,
        mirror: mirror.listener.host,
        oidc: oidc.listener.host,
        fronts: registryList.map(({ account, region, frontHost }) => ({ account, region, host: frontHost })),
      });
      // ECR then reports its production registry hosts (proxyEndpoint, repositoryUri), as the real service does.
      for (const registry of registryList)
        registry.frontHost = ecrRegistryHost(registry.account, registry.region);
    }
    const oidcRequestUrl = options.productionNames ? productionOidcUrl(oidc.requestUrl) : oidc.requestUrl;
    const teleportFqdn = options.productionNames ? PRODUCTION_TELEPORT_FQDN : teleport.fqdn;

    const regionOf = (name: string, account = DEFAULT_ACCOUNT): RegistryState => {
      const registry = registries.get(account, name);
      if (registry) return registry;
      if (!accounts.includes(account))
        throw new Error(`the world has no account ${account} (accounts: ${accounts.join(', ')})`);
      throw new Error(`the world has no region ${name} (regions: ${regionNames.join(', ')})`);
    };
    const primary = regionOf(PRIMARY_REGION);
    const secondary = options.secondary ? regionOf(options.secondary) : undefined;

    const createRepository: World['createRepository'] = (
      region,
      name,
      mutability = 'MUTABLE',
      filters = [],
      account = DEFAULT_ACCOUNT,
    ) =>
      regionOf(region, account).create(
        name,
        mutability,
        filters.length === 0
          ? undefined
          : filters.map((f) => (typeof f === 'string' ? { filterType: 'WILDCARD' as const, filter: f } : f)),
      );

    const world: World = {
      dir,
      caFile: tls.caFile,
      region: PRIMARY_REGION,
      ...(secondary ? { secondaryRegion: secondary.region, secondaryRegistryHost: secondary.frontHost } : {}),
      account: DEFAULT_ACCOUNT,
      accounts,
      registryHost: primary.frontHost,
      teleportFqdn,
      mirrorUrl: options.productionNames ? '' : mirror.url,
      mirrorRoot: mirror.root,
      mirror: { url: mirror.url, root: mirror.root, publish: mirror.publish },
      controlDir,
      standinVersions: { ...STANDIN_VERSIONS },
      standinsPublished,
      roleArn: sts.roleArn,
      ecrEndpoint: ecr.url,
      stsEndpoint: sts.url,
      oidc: {
        requestUrl: oidcRequestUrl,
        requestToken: oidc.requestToken,
        issuer: oidc.issuer,
        jwksFile: oidc.jwksFile,
        claims: oidc.claims,
        setClaims: oidc.setClaims,
        mint: oidc.mint,
      },
      teleport: {
        fqdn: teleportFqdn,
        issuer: teleport.issuer,
        jwksFile: teleport.jwksFile,
        setVersions: teleport.setVersions,
        setSvidLifetime: teleport.setSvidLifetime,
        mintSvid: teleport.mintSvid,
        svids: teleport.svids,
      },
      sts: {
        endpoint: sts.url,
        setCredentialLifetime: sts.setCredentialLifetime,
        credentials: () =>
          sts.issued.map((c) => ({
            accessKeyId: c.accessKeyId,
            roleArn: c.roleArn,
            sessionName: c.sessionName,
            issuedAt: new Date(c.issuedAt),
            expiration: new Date(c.expiration),
          })),
        keysOf: (accessKeyId) => {
          const c = sts.issued.find((issued) => issued.accessKeyId === accessKeyId);
          return c && { accessKeyId, secretAccessKey: c.secretAccessKey, sessionToken: c.sessionToken };
        },
      },
      ecr: {
        endpoint: ecr.url,
        setTokenLifetime: ecr.setTokenLifetime,
        calls: () => recorder.calls.map((c) => ({ ...c })),
        tokens: () => [...recorder.tokens],
        registryCalls: () => recorder.registryCalls.map((c) => ({ ...c })),
      },
      faults,
      counters,
      productionNames: options.productionNames === true,
      ...(proxy ? { proxy } : {}),
      env: () => ({
        NODE_EXTRA_CA_CERTS: tls.caFile,
        SSL_CERT_FILE: tls.caFile,
        // Production names: the SDK resolves its default endpoints, which only the proxy can reach.
        ...(options.productionNames ? {} : { AWS_ENDPOINT_URL_ECR: ecr.url, AWS_ENDPOINT_URL_STS: sts.url }),
        ...(proxyUrl ? { HTTPS_PROXY: proxyUrl } : {}),
        ACTIONS_ID_TOKEN_REQUEST_URL: oidcRequestUrl,
        ACTIONS_ID_TOKEN_REQUEST_TOKEN: oidc.requestToken,
        AWS_EC2_METADATA_DISABLED: 'true',
      }),
      async seedImage(regionName, repository, tag, account) {
        const region = regionOf(regionName, account);
        if (!region.repos.has(repository)) region.create(repository, 'MUTABLE', undefined);
        const { digest, mediaType } = await pushTinyImage(region.registry.url, repository, tag);
        return { digest, mediaType };
      },
      createRepository,
      repositories: (region, account) => [...regionOf(region, account).repos.values()],
      async tagDigest(region, repository, tag, account) {
        return (await getManifest(regionOf(region, account).registry.url, repository, tag))?.digest;
      },
      async deleteImage(region, repository, tag, account) {
        const url = regionOf(region, account).registry.url;
        const manifest = await getManifest(url, repository, tag);
        return manifest ? deleteManifest(url, repository, manifest.digest) : false;
      },
      registry: (region, account) => regionOf(region, account).registry.url,
      registryFront: (region, account) => regionOf(region, account).frontHost,
      registryFronts: () =>
        registryList.map(({ account, region, frontHost }) => ({ account, region, host: frontHost })),
      secrets: () => [
        oidc.requestToken,
        ...oidc.issued,
        ...teleport.issued,
        ...sts.issued.flatMap((c) => [c.accessKeyId, c.secretAccessKey, c.sessionToken]),
        ...ecr.secrets(),
      ],
      stop,
    };
    return world;
  } catch (error) {
    await stop();
    throw error;
  }
}

export { ecrTarget };
