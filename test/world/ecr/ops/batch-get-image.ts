// BatchGetImage: manifests as the registry stores them; misses go to `failures[]` with ECR's failure codes.
import { getManifest, isDigest } from '../../oci.ts';
import { failure, type ImageFailure, imageIds, manifestOf, notFound, pickId } from '../images.ts';
import type { Operation } from '../operation.ts';

export const batchGetImage: Operation = async ({ registry }, input) => {
  const repo = registry.repo(String(input['repositoryName'] ?? '')).name;
  const accepted = Array.isArray(input['acceptedMediaTypes'])
    ? (input['acceptedMediaTypes'] as string[])
    : undefined;
  const url = registry.registry.url;
  const images: unknown[] = [];
  const failures: ImageFailure[] = [];
  for (const id of imageIds(input['imageIds'], true) ?? []) {
    // Checked before manifestOf's missing-id check, which it can never overlap, so ECR's order of checks holds.
    if (id.imageDigest && !isDigest(id.imageDigest)) {
      failures.push(
        failure(
          id,
          'InvalidImageDigest',
          'Invalid request parameters: image digest should satisfy the regex',
        ),
      );
      continue;
    }
    const found = await manifestOf(registry, repo, id);
    if ('failure' in found) {
      failures.push(found.failure);
      continue;
    }
    const { manifest } = found;
    if (id.imageTag && id.imageDigest) {
      const tagged = await getManifest(url, repo, id.imageTag);
      if (tagged?.digest !== manifest.digest) {
        failures.push(
          tagged
            ? failure(
                pickId(id),
                'ImageTagDoesNotMatchDigest',
                'Invalid image tag for the specified image digest',
              )
            : notFound(id),
        );
        continue;
      }
    }
    if (accepted && accepted.length > 0 && !accepted.includes(manifest.mediaType)) {
      failures.push(
        failure(
          pickId(id),
          'UnsupportedImageType',
          `Image manifest media type ${manifest.mediaType} is not accepted`,
        ),
      );
      continue;
    }
    images.push({
      registryId: registry.account,
      repositoryName: repo,
      imageId: { imageDigest: manifest.digest, ...(id.imageTag ? { imageTag: id.imageTag } : {}) },
      imageManifest: manifest.body.toString('utf8'),
      imageManifestMediaType: manifest.mediaType,
    });
  }
  return { images, failures };
};
