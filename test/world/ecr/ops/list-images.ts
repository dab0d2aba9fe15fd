// ListImages: one id per tag (digest and tag), and the digest alone for untagged images.
import { type ImageId, imagesOf, tagStatusOf } from '../images.ts';
import type { Operation } from '../operation.ts';

export const listImages: Operation = async ({ registry }, input) => {
  const repo = registry.repo(String(input['repositoryName'] ?? '')).name;
  const status = tagStatusOf(input);
  const out: ImageId[] = [];
  for (const [digest, tags] of await imagesOf(registry, repo)) {
    if (tags.length === 0 && status !== 'TAGGED') out.push({ imageDigest: digest });
    if (status !== 'UNTAGGED') for (const tag of tags) out.push({ imageDigest: digest, imageTag: tag });
  }
  return { imageIds: out };
};
