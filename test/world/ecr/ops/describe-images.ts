// DescribeImages: the named images (ImageNotFoundException for a miss), else every image matching the tag status.
import { getManifest } from '../../oci.ts';
import { EcrError } from '../errors.ts';
import { detail, idText, imageIds, imagesOf, tagStatusOf } from '../images.ts';
import type { Operation } from '../operation.ts';

export const describeImages: Operation = async ({ registry }, input) => {
  const repo = registry.repo(String(input['repositoryName'] ?? '')).name;
  const ids = imageIds(input['imageIds'], false);
  const images = await imagesOf(registry, repo);
  const url = registry.registry.url;
  if (ids && ids.length > 0) {
    const details = [];
    for (const id of ids) {
      const ref = id.imageDigest ?? id.imageTag;
      const manifest = ref ? await getManifest(url, repo, ref) : undefined;
      const tagged = id.imageTag ? await getManifest(url, repo, id.imageTag) : undefined;
      if (!manifest || (id.imageTag && id.imageDigest && tagged?.digest !== manifest.digest)) {
        throw new EcrError(
          'ImageNotFoundException',
          `The image with imageId ${idText(id)} does not exist within the repository with name '${repo}' in the registry with id '${registry.account}'`,
        );
      }
      details.push(await detail(registry, repo, manifest, images.get(manifest.digest) ?? []));
    }
    return { imageDetails: details };
  }
  const status = tagStatusOf(input);
  const details = [];
  for (const [digest, tags] of images) {
    if ((status === 'TAGGED' && tags.length === 0) || (status === 'UNTAGGED' && tags.length > 0)) continue;
    const manifest = await getManifest(url, repo, digest);
    if (manifest) details.push(await detail(registry, repo, manifest, tags));
  }
  return { imageDetails: details };
};
