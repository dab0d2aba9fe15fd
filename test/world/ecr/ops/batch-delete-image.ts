// BatchDeleteImage: by digest deletes the image and all its tags; by tag drops the tag, and the image with its last tag.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { deleteManifest } from '../../oci.ts';
import { type ImageFailure, type ImageId, imageIds, imagesOf, manifestOf, repoDir } from '../images.ts';
import type { Operation } from '../operation.ts';

export const batchDeleteImage: Operation = async ({ registry }, input) => {
  const repo = registry.repo(String(input['repositoryName'] ?? '')).name;
  const url = registry.registry.url;
  const deleted: ImageId[] = [];
  const failures: ImageFailure[] = [];
  for (const id of imageIds(input['imageIds'], true) ?? []) {
    const found = await manifestOf(registry, repo, id);
    if ('failure' in found) {
      failures.push(found.failure);
      continue;
    }
    const { manifest } = found;
    const images = await imagesOf(registry, repo);
    const tags = images.get(manifest.digest) ?? [];
    if (id.imageDigest) {
      await deleteManifest(url, repo, manifest.digest);
      if (tags.length === 0) deleted.push({ imageDigest: manifest.digest });
      for (const tag of tags) deleted.push({ imageDigest: manifest.digest, imageTag: tag });
      continue;
    }
    // The registry API cannot untag; dropping the tag link is exactly what its own Untag does.
    await rm(join(repoDir(registry, repo), '_manifests', 'tags', id.imageTag as string), {
      recursive: true,
      force: true,
    });
    // ECR deletes an image together with its last tag.
    if (tags.filter((t) => t !== id.imageTag).length === 0) await deleteManifest(url, repo, manifest.digest);
    deleted.push({ imageDigest: manifest.digest, imageTag: id.imageTag as string });
  }
  return { imageIds: deleted, failures };
};
