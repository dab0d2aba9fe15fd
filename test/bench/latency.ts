// The benchmark's latency model: what each service and tool costs a hosted runner, laid onto the test world.
import { TARGETS, type World, type WorldOptions } from '../world/index.ts';

export const LATENCY = {
  /** Per request to the STS and ECR APIs (a region away, TLS reused). */
  awsApiMs: 80,
  /** Per request to the registry, blob redirects to S3 included. */
  registryMs: 40,
  /** Per request to the Teleport proxy (`/webapi/find`, tbot's join). */
  teleportMs: 80,
  /** Per OIDC token from GitHub's token endpoint. */
  oidcMs: 100,
  /** Per download request, before the first byte. */
  downloadFirstByteMs: 40,
  /** Per download, as a CDN serves one connection. */
  downloadBytesPerSecond: 50e6,
  /** A tool command's own work beyond the requests above: joining, Fulcio and Rekor, Sigstore's TUF root. */
  tools: {
    'tbot start': 1_500,
    'cosign sign': 2_000,
    'cosign verify': 1_000,
    'flux push': 100,
    'flux pull': 100,
  },
  /**
   * Release assets as big as the real ones: flux_<V>_linux_amd64.tar.gz ~25 MB, cosign-linux-amd64 ~100 MB,
   * teleport-v<V>-linux-amd64-bin.tar.gz ~150 MB (teleport, tctl, tsh, tbot: an estimate, not measured).
   */
  assetBytes: { flux: 25e6, cosign: 100e6, teleport: 150e6 },
} as const;

/** The world options that carry the model: the mirror's bandwidth and the tools' delays. */
export function latencyWorldOptions(): WorldOptions {
  return { mirrorBytesPerSecond: LATENCY.downloadBytesPerSecond, toolDelays: { ...LATENCY.tools } };
}

/** Every request to a remote service waits its round trip first (the world's 'delay' fault, for ever). */
export function injectNetworkDelays(world: World): void {
  const delays: [string, number][] = [
    [TARGETS.sts, LATENCY.awsApiMs],
    [TARGETS.ecr, LATENCY.awsApiMs],
    [TARGETS.registry(world.region), LATENCY.registryMs],
    [TARGETS.teleport, LATENCY.teleportMs],
    [TARGETS.oidc, LATENCY.oidcMs],
    [TARGETS.mirror, LATENCY.downloadFirstByteMs],
  ];
  for (const [target, delayMs] of delays) {
    world.faults.inject({ target, fault: 'delay', delayMs, count: Number.POSITIVE_INFINITY });
  }
}
