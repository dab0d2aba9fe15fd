/** Tool versions used when the caller does not choose one; tools.ts pins the sha256s it could establish (see there). */
export const DEFAULT_TOOL_VERSIONS = {
  flux: '2.9.4',
  // The v2 line keeps signatures as `sha256-<hex>.sig` tags, which Flux before 2.8 and cosign v2 verify. 2.6.4
  // is its newest release: 2.6.2 fixed GHSA-whqx-f9j3-ch6m, 2.6.3 CVE-2026-39395 (verify-blob-attestation).
  cosign: '2.6.4',
} as const;

/** The placeholder the services' manifests carry where the release version belongs. */
export const PLACEHOLDER = '${APP_PACKAGE_VERSION_TO_BE_REPLACED}';

/** A released version: X.Y.Z, no "v", no pre-release, no leading zeros. */
export const STRICT_VERSION = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$/;
export const STRICT_VERSION_ALLOWED =
  'a strict X.Y.Z version (no "v", no pre-release, no leading zeros), e.g. 1.4.2';

/**
 * The oldest Teleport whose tbot `workload-identity-jwt` service a cluster serves without its experiment flag
 * (TELEPORT_WORKLOAD_IDENTITY_UX_EXPERIMENT): gravitational/teleport#51288, listed under 17.2.7 in the v17
 * CHANGELOG. Older clusters refuse to issue ("workload identity issuance experiment is disabled").
 */
export const TELEPORT_FLOOR = '17.2.7';
