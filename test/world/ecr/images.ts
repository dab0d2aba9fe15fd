// Image state of a repository, read from its registry (so the ECR API and the registry API always agree), and image ids.
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { StoredManifest } from '../oci.ts';
import { getManifest, listTags } from '../oci.ts';
import { EcrError } from './errors.ts';
import type { RegistryState } from './state.ts';

export interface ImageId {
  imageTag?: string;
  imageDigest?: string;
}

export const idText = (id: ImageId) =>
  `{imageDigest:'${id.imageDigest ?? 'null'}', imageTag:'${id.imageTag ?? 'null'}'}`;

export const pickId = (id: ImageId): ImageId => ({
  ...(id.imageDigest ? { imageDigest: id.imageDigest } : {}),
  ...(id.imageTag ? { imageTag: id.imageTag } : {}),
});

/** An entry of a Batch*Image `failures[]`. */
export interface ImageFailure {
  imageId: ImageId;
  failureCode: string;
  failureReason: string;
}

export const failure = (imageId: ImageId, failureCode: string, failureReason: string): ImageFailure => ({
  imageId,
  failureCode,
  failureReason,
});

export const notFound = (id: ImageId) => failure(pickId(id), 'ImageNotFound', 'Requested image not found');

/** The manifest an id of a Batch*Image call names, or ECR's failure: neither digest nor tag, or no such image. */
export async function manifestOf(
  registry: RegistryState,
  repo: string,
  id: ImageId,
): Promise<{ manifest: StoredManifest } | { failure: ImageFailure }> {
  if (!id.imageDigest && !id.imageTag) {
    return { failure: failure(id, 'MissingDigestAndTag', 'Missing image digest and tag') };
  }
  const manifest = await getManifest(registry.registry.url, repo, (id.imageDigest ?? id.imageTag) as string);
  return manifest ? { manifest } : { failure: notFound(id) };
}

export const repoDir = (registry: RegistryState, repo: string) =>
  join(registry.registry.storageRoot, 'docker', 'registry', 'v2', 'repositories', repo);

const revisionDir = (registry: RegistryState, repo: string) =>
  join(repoDir(registry, repo), '_manifests', 'revisions', 'sha256');

/** Image state of one repository, read from the registry: digest → tags. */
export async function imagesOf(registry: RegistryState, repo: string): Promise<Map<string, string[]>> {
  const url = registry.registry.url;
  const tags = await listTags(url, repo);
  const resolved = await Promise.all(
    tags.map(async (tag) => [tag, (await getManifest(url, repo, tag))?.digest] as const),
  );
  const images = new Map<string, string[]>();
  const revisions = revisionDir(registry, repo);
  for (const hex of await readdir(revisions).catch(() => [] as string[])) images.set(`sha256:${hex}`, []);
  for (const [tag, digest] of resolved) {
    if (!digest) continue;
    images.set(digest, [...(images.get(digest) ?? []), tag]);
  }
  return images;
}

async function pushedAt(registry: RegistryState, repo: string, digest: string): Promise<number> {
  try {
    const info = await stat(join(revisionDir(registry, repo), digest.replace(/^sha256:/, ''), 'link'));
    return info.mtimeMs / 1000;
  } catch {
    return Date.now() / 1000;
  }
}

/** An `imageDetail` of DescribeImages. */
export async function detail(
  registry: RegistryState,
  repo: string,
  manifest: StoredManifest,
  tags: string[],
): Promise<Record<string, unknown>> {
  let size = 0;
  let artifactMediaType: string | undefined;
  try {
    const parsed = JSON.parse(manifest.body.toString('utf8')) as {
      config?: { size?: number; mediaType?: string };
      layers?: { size?: number }[];
      manifests?: { size?: number }[];
    };
    size = (parsed.config?.size ?? 0) + (parsed.layers ?? []).reduce((n, l) => n + (l.size ?? 0), 0);
    artifactMediaType = parsed.config?.mediaType;
  } catch {
    // not JSON: report size 0
  }
  return {
    registryId: registry.account,
    repositoryName: repo,
    imageDigest: manifest.digest,
    ...(tags.length > 0 ? { imageTags: [...tags].sort() } : {}),
    imageSizeInBytes: size,
    imagePushedAt: await pushedAt(registry, repo, manifest.digest),
    imageManifestMediaType: manifest.mediaType,
    ...(artifactMediaType ? { artifactMediaType } : {}),
  };
}

/** The `imageIds` member: a list of 1-100 ids when required, absent or a list of up to 100 otherwise. */
export function imageIds(input: unknown, required: boolean): ImageId[] | undefined {
  if (input === undefined || input === null) {
    if (required) {
      throw new EcrError(
        'InvalidParameterException',
        "Invalid parameter at 'imageIds' failed to satisfy constraint: 'Member must not be null'",
      );
    }
    return undefined;
  }
  if (!Array.isArray(input) || input.length > 100 || (required && input.length === 0)) {
    throw new EcrError(
      'InvalidParameterException',
      "Invalid parameter at 'imageIds' failed to satisfy constraint: 'Member must have length between 1 and 100'",
    );
  }
  return input.map((raw: unknown) => {
    const { imageTag, imageDigest } = (raw ?? {}) as Record<string, unknown>;
    return {
      ...(typeof imageTag === 'string' && imageTag ? { imageTag } : {}),
      ...(typeof imageDigest === 'string' && imageDigest ? { imageDigest } : {}),
    };
  });
}

/** The `tagStatus` of an optional `filter` member; ANY when absent. */
export const tagStatusOf = (input: Record<string, unknown>): string =>
  ((input['filter'] ?? {}) as { tagStatus?: string }).tagStatus ?? 'ANY';
