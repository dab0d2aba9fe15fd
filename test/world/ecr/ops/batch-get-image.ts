// BatchGetImage: manifests as the registry stores them; misses go to `failures[]` with ECR's failure codes.
import { getManifest, isDigest } from '../../oci.ts';
import { imageIds, pickId } from '../images.ts';
import type { Operation } from '../operation.ts';

export const batchGetImage: Operation = async ({ registry }, input) => {
  const repo = registry.repo(String(input['repositoryName'] ?? '')).name;
  const accepted = Array.isArray(input['acceptedMediaTypes'])
    ? (input['acceptedMediaTypes'] as string[])
    : undefined;
  const url = registry.registry.url;
  const images: unknown[] = [];
  const failures: unknown[] = [];
  for (const id of imageIds(input['imageIds'], true) ?? []) {
    if (!id.imageDigest && !id.imageTag) {
      failures.push({
        imageId: id,
        failureCode: 'MissingDigestAndTag',
        failureReason: 'Missing image digest and tag',
      });
      continue;
    }
    if (id.imageDigest && !isDigest(id.imageDigest)) {
      failures.push({
        imageId: id,
        failureCode: 'InvalidImageDigest',
        failureReason: 'Invalid request parameters: image digest should satisfy the regex',
      });
      continue;
    }
    const manifest = await getManifest(url, repo, (id.imageDigest ?? id.imageTag) as string);
    if (!manifest) {
      failures.push({
        imageId: pickId(id),
        failureCode: 'ImageNotFound',
        failureReason: 'Requested image not found',
      });
      continue;
    }
    if (id.imageTag && id.imageDigest) {
      const tagged = await getManifest(url, repo, id.imageTag);
      if (tagged?.digest !== manifest.digest) {
        failures.push({
          imageId: pickId(id),
          failureCode: tagged ? 'ImageTagDoesNotMatchDigest' : 'ImageNotFound',
          failureReason: tagged
            ? 'Invalid image tag for the specified image digest'
            : 'Requested image not found',
        });
        continue;
      }
    }
    if (accepted && accepted.length > 0 && !accepted.includes(manifest.mediaType)) {
      failures.push({
        imageId: pickId(id),
        failureCode: 'UnsupportedImageType',
        failureReason: `Image manifest media type ${manifest.mediaType} is not accepted`,
      });
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
