import { ActionError } from './errors.ts';
import { isDigest, type Manifest, type OciClient } from './oci.ts';

/** A blob a manifest names. */
export interface BlobRef {
  digest: string;
  size: number;
}

/** What was copied: the manifest as stored (for a later PUT under a tag) and how many blobs went with it. */
export interface Copied {
  digest: string;
  mediaType: string;
  body: Buffer;
  blobs: number;
}

/**
 * The manifest's media type and the blobs it names (config, then layers, each once). An index names
 * manifests rather than blobs; nothing this action writes is one, so it is refused rather than half-copied.
 */
export function manifestBlobs(manifest: Manifest): { mediaType: string; blobs: BlobRef[] } {
  let json: { mediaType?: unknown; config?: unknown; layers?: unknown; manifests?: unknown };
  try {
    json = JSON.parse(manifest.body.toString('utf8'));
  } catch {
    throw new ActionError(`manifest ${manifest.digest} is not JSON`);
  }
  // The manifest's own field decides how a registry parses it; the header is only a fallback.
  const mediaType = typeof json.mediaType === 'string' ? json.mediaType : manifest.mediaType;
  if (json.manifests !== undefined) {
    throw new ActionError(
      `${manifest.digest} is an image index (${mediaType}); the mirror copies single manifests only`,
    );
  }
  const descriptors = [json.config, ...(Array.isArray(json.layers) ? json.layers : [])];
  const blobs = new Map<string, BlobRef>();
  for (const raw of descriptors) {
    const d = raw as { digest?: unknown; size?: unknown } | null | undefined;
    if (typeof d?.digest !== 'string' || !isDigest(d.digest) || typeof d.size !== 'number') {
      throw new ActionError(`manifest ${manifest.digest} names a blob without a sha256 digest and size`);
    }
    blobs.set(d.digest, { digest: d.digest, size: d.size });
  }
  if (!mediaType) throw new ActionError(`manifest ${manifest.digest} has no media type`);
  return { mediaType, blobs: [...blobs.values()] };
}

/**
 * Copies a manifest and every blob it names from `source` to `target` by digest, reading nothing from
 * `target`: each blob is uploaded whatever the target claims to hold, since reads there may lie.
 * The manifest is PUT by digest only; tagging it is the caller's decision.
 */
export async function copyByDigest(
  source: OciClient,
  target: OciClient,
  repository: string,
  digest: string,
): Promise<Copied> {
  const manifest = await source.getManifest(repository, digest);
  if (!manifest) {
    throw new ActionError(`${source.registry}/${repository}@${digest} is not in the source registry`);
  }
  const { mediaType, blobs } = manifestBlobs(manifest);
  await Promise.all(
    blobs.map(async (blob) => {
      const bytes = await source.getBlob(repository, blob.digest);
      if (bytes.length !== blob.size) {
        throw new ActionError(
          `blob ${blob.digest} of ${repository} is ${bytes.length} bytes, its manifest says ${blob.size}`,
        );
      }
      await target.uploadBlob(repository, blob.digest, bytes);
    }),
  );
  await target.putManifest(repository, digest, mediaType, manifest.body);
  return { digest, mediaType, body: manifest.body, blobs: blobs.length };
}
