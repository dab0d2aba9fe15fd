// Production host names of the services the world emulates, and the proxy routes that lead them to the emulators.
import type { ForwardProxy } from './proxy.ts';

/** The Teleport proxy of the `teleport-fqdn` default. */
export const PRODUCTION_TELEPORT_FQDN = 'teleport.maestra.io:443';
/** Where ACTIONS_ID_TOKEN_REQUEST_URL points on a hosted runner (the path is the run's own). */
export const PRODUCTION_OIDC_HOST = 'pipelines.actions.githubusercontent.com';
/** Upstream download hosts of the tools (CONTRACT.md, "Tool downloads"), served by the mirror. */
export const PRODUCTION_DOWNLOAD_HOSTS = ['github.com', 'cdn.teleport.dev'] as const;

/** `<account>.dkr.ecr.<region>.amazonaws.com`: an ECR registry host. */
export const ecrRegistryHost = (account: string, region: string) =>
  `${account}.dkr.ecr.${region}.amazonaws.com`;
/** The ECR API endpoint @aws-sdk/client-ecr resolves for a region (its endpoint ruleset: `api.ecr.{Region}.{dnsSuffix}`). */
export const ecrApiHost = (region: string) => `api.ecr.${region}.amazonaws.com`;
/** The STS endpoint @aws-sdk/client-sts resolves for a region (regional endpoints are the SDK v3 default). */
export const stsHost = (region: string) => `sts.${region}.amazonaws.com`;
/** STS's global endpoint, which older configurations still reach. */
export const STS_GLOBAL_HOST = 'sts.amazonaws.com';

/** One registry front: the ECR host of `account` in `region`, served at loopback `host` (`127.0.0.1:<port>`). */
export interface RegistryFrontAddress {
  account: string;
  region: string;
  host: string;
}

/** The names the world's certificate must carry so clients verify it under the production names. */
export function productionCertNames(regions: readonly string[]): string[] {
  return [
    STS_GLOBAL_HOST,
    ...regions.flatMap((region) => [
      stsHost(region),
      ecrApiHost(region),
      // One wildcard per region covers every account's registry host, so new accounts need no new certificate.
      `*.dkr.ecr.${region}.amazonaws.com`,
    ]),
    PRODUCTION_TELEPORT_FQDN.replace(/:\d+$/, ''),
    ...PRODUCTION_DOWNLOAD_HOSTS,
    PRODUCTION_OIDC_HOST,
  ];
}

export interface ProductionServers {
  regions: readonly string[];
  /** Loopback `host:port` of each emulator. */
  sts: string;
  ecr: string;
  teleport: string;
  mirror: string;
  oidc: string;
  fronts: readonly RegistryFrontAddress[];
}

/** Routes every production name to the emulator that plays it. */
export function routeProductionNames(proxy: Pick<ForwardProxy, 'route'>, servers: ProductionServers): void {
  proxy.route(`${STS_GLOBAL_HOST}:443`, servers.sts);
  for (const region of servers.regions) {
    proxy.route(`${stsHost(region)}:443`, servers.sts);
    proxy.route(`${ecrApiHost(region)}:443`, servers.ecr);
  }
  for (const front of servers.fronts) routeRegistryFront(proxy, front);
  proxy.route(PRODUCTION_TELEPORT_FQDN, servers.teleport);
  for (const host of PRODUCTION_DOWNLOAD_HOSTS) proxy.route(`${host}:443`, servers.mirror);
  proxy.route(`${PRODUCTION_OIDC_HOST}:443`, servers.oidc);
}

/** The one line that makes another account's (or region's) registry front reachable under its ECR name. */
export function routeRegistryFront(proxy: Pick<ForwardProxy, 'route'>, front: RegistryFrontAddress): void {
  proxy.route(`${ecrRegistryHost(front.account, front.region)}:443`, front.host);
}

/** The runner's OIDC request URL moved to the production-looking host (same path and query). */
export function productionOidcUrl(requestUrl: string): string {
  const url = new URL(requestUrl);
  url.hostname = PRODUCTION_OIDC_HOST;
  url.port = '';
  return url.toString();
}
