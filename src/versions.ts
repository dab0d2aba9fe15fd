/** Tool versions used when the caller does not choose one; tools.ts pins the sha256s it could establish (see there). */
export const DEFAULT_TOOL_VERSIONS = {
  flux: '2.9.4',
  // The v2 line keeps signatures as `sha256-<hex>.sig` tags, which Flux before 2.8 and cosign v2 verify.
  cosign: '2.6.1',
} as const;

/** The placeholder the services' manifests carry where the release version belongs. */
export const PLACEHOLDER = '${APP_PACKAGE_VERSION_TO_BE_REPLACED}';

/** A released version: X.Y.Z, no "v", no pre-release, no leading zeros. */
export const STRICT_VERSION = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$/;
export const STRICT_VERSION_ALLOWED =
  'a strict X.Y.Z version (no "v", no pre-release, no leading zeros), e.g. 1.4.2';
