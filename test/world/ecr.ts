// The ECR JSON API (awsJson1_1) on one HTTPS endpoint for all regions; image state is read from each region's registry.
import { randomBytes, randomUUID } from 'node:crypto';
import { readdir, rm, stat } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { join } from 'node:path';
import type { Counters } from './counters.ts';
import { ACCOUNT_ID, EcrError, type RegionState, validateMutability } from './ecr-state.ts';
import type { ErrorShape, Faults, ServiceFaultStyle } from './faults.ts';
import { type Listener, listenHttps, readBody } from './https-server.ts';
import { deleteManifest, getManifest, isDigest, listTags, type StoredManifest } from './oci.ts';
import { parseAuthorization, verifySigV4 } from './sigv4.ts';
import type { StsServer } from './sts.ts';

const TARGET_PREFIX = 'AmazonEC2ContainerRegistry_V20150921.';
const JSON_TYPE = 'application/x-amz-json-1.1';
/** ECR registry passwords are valid for 12 hours. */
const TOKEN_TTL_MS = 12 * 3600 * 1000;

export interface EcrApi {
  readonly url: string;
  readonly listener: Listener;
  /** Registry passwords and authorization tokens issued so far. */
  secrets(): string[];
}

function send(res: ServerResponse, status: number, body: unknown, extra: Record<string, string> = {}): void {
  const data = Buffer.from(JSON.stringify(body));
  res.writeHead(status, {
    'content-type': JSON_TYPE,
    'content-length': String(data.length),
    'x-amzn-requestid': randomUUID(),
    ...extra,
  });
  res.end(data);
}

function sendError(res: ServerResponse, e: ErrorShape): void {
  send(res, e.status, { __type: e.code, message: e.message }, { 'x-amzn-errortype': e.code });
}

const style: ServiceFaultStyle = {
  write: sendError,
  serverCode: 'ServerException',
  throttle: { status: 400, code: 'ThrottlingException', message: 'Rate exceeded' },
  statusFor: (code) => (code === 'ServerException' ? 500 : 400),
};

/** ECR API counter/fault target for a region: 'ecr' for the primary, 'ecr-secondary' for the other. */
export function ecrTarget(region: string, primary: string): string {
  return region === primary ? 'ecr' : 'ecr-secondary';
}

interface ImageId {
  imageTag?: string;
  imageDigest?: string;
}

const idText = (id: ImageId) =>
  `{imageDigest:'${id.imageDigest ?? 'null'}', imageTag:'${id.imageTag ?? 'null'}'}`;
const pickId = (id: ImageId): ImageId => ({
  ...(id.imageDigest ? { imageDigest: id.imageDigest } : {}),
  ...(id.imageTag ? { imageTag: id.imageTag } : {}),
});

/** Image state of one repository, read from the registry: digest → tags. */
async function imagesOf(region: RegionState, repo: string): Promise<Map<string, string[]>> {
  const url = region.registry.url;
  const tags = await listTags(url, repo);
  const resolved = await Promise.all(
    tags.map(async (tag) => [tag, (await getManifest(url, repo, tag))?.digest] as const),
  );
  const images = new Map<string, string[]>();
  const revisions = revisionDir(region, repo);
  for (const hex of await readdir(revisions).catch(() => [] as string[])) images.set(`sha256:${hex}`, []);
  for (const [tag, digest] of resolved) {
    if (!digest) continue;
    images.set(digest, [...(images.get(digest) ?? []), tag]);
  }
  return images;
}

const repoDir = (region: RegionState, repo: string) =>
  join(region.registry.storageRoot, 'docker', 'registry', 'v2', 'repositories', repo);
const revisionDir = (region: RegionState, repo: string) =>
  join(repoDir(region, repo), '_manifests', 'revisions', 'sha256');

async function pushedAt(region: RegionState, repo: string, digest: string): Promise<number> {
  try {
    const info = await stat(join(revisionDir(region, repo), digest.replace(/^sha256:/, ''), 'link'));
    return info.mtimeMs / 1000;
  } catch {
    return Date.now() / 1000;
  }
}

async function detail(
  region: RegionState,
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
    registryId: ACCOUNT_ID,
    repositoryName: repo,
    imageDigest: manifest.digest,
    ...(tags.length > 0 ? { imageTags: [...tags].sort() } : {}),
    imageSizeInBytes: size,
    imagePushedAt: await pushedAt(region, repo, manifest.digest),
    imageManifestMediaType: manifest.mediaType,
    ...(artifactMediaType ? { artifactMediaType } : {}),
  };
}

function imageIds(input: unknown, required: boolean): ImageId[] | undefined {
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

export async function startEcrApi(
  tls: Parameters<typeof listenHttps>[0],
  counters: Counters,
  faults: Faults,
  regions: ReadonlyMap<string, RegionState>,
  primary: string,
  sts: StsServer,
): Promise<EcrApi> {
  const issued: string[] = [];

  const ops: Record<string, (region: RegionState, input: Record<string, unknown>) => Promise<unknown>> = {
    async GetAuthorizationToken(region) {
      const password = randomBytes(258).toString('base64');
      const expiresAt = Date.now() + TOKEN_TTL_MS;
      region.passwords.set(password, expiresAt);
      const authorizationToken = Buffer.from(`AWS:${password}`).toString('base64');
      issued.push(password, authorizationToken);
      return {
        authorizationData: [
          { authorizationToken, expiresAt: expiresAt / 1000, proxyEndpoint: `https://${region.frontHost}` },
        ],
      };
    },

    async DescribeRepositories(region, input) {
      const names = input['repositoryNames'];
      if (Array.isArray(names) && names.length > 0) {
        return { repositories: names.map((n) => region.describe(region.repo(String(n)))) };
      }
      return {
        repositories: [...region.repos.values()]
          .sort((a, b) => a.name.localeCompare(b.name))
          .map((m) => region.describe(m)),
      };
    },

    async CreateRepository(region, input) {
      const meta = region.create(
        input['repositoryName'],
        input['imageTagMutability'],
        input['imageTagMutabilityExclusionFilters'],
      );
      return { repository: region.describe(meta) };
    },

    async PutImageTagMutability(region, input) {
      const meta = region.repo(String(input['repositoryName'] ?? ''));
      const checked = validateMutability(
        input['imageTagMutability'],
        input['imageTagMutabilityExclusionFilters'],
      );
      meta.mutability = checked.mutability;
      meta.filters = checked.filters;
      return {
        registryId: ACCOUNT_ID,
        repositoryName: meta.name,
        imageTagMutability: meta.mutability,
        ...(meta.filters.length > 0 ? { imageTagMutabilityExclusionFilters: meta.filters } : {}),
      };
    },

    async DeleteRepository(region, input) {
      const meta = region.repo(String(input['repositoryName'] ?? ''));
      const images = await imagesOf(region, meta.name);
      if (images.size > 0 && input['force'] !== true) {
        throw new EcrError(
          'RepositoryNotEmptyException',
          `The repository with name '${meta.name}' in registry with id '${ACCOUNT_ID}' cannot be deleted because it still contains images`,
        );
      }
      const described = region.describe(meta);
      region.repos.delete(meta.name);
      await rm(repoDir(region, meta.name), { recursive: true, force: true });
      return { repository: described };
    },

    async DescribeImages(region, input) {
      const repo = region.repo(String(input['repositoryName'] ?? '')).name;
      const ids = imageIds(input['imageIds'], false);
      const images = await imagesOf(region, repo);
      const url = region.registry.url;
      if (ids && ids.length > 0) {
        const details = [];
        for (const id of ids) {
          const ref = id.imageDigest ?? id.imageTag;
          const manifest = ref ? await getManifest(url, repo, ref) : undefined;
          const tagged = id.imageTag ? await getManifest(url, repo, id.imageTag) : undefined;
          if (!manifest || (id.imageTag && id.imageDigest && tagged?.digest !== manifest.digest)) {
            throw new EcrError(
              'ImageNotFoundException',
              `The image with imageId ${idText(id)} does not exist within the repository with name '${repo}' in the registry with id '${ACCOUNT_ID}'`,
            );
          }
          details.push(await detail(region, repo, manifest, images.get(manifest.digest) ?? []));
        }
        return { imageDetails: details };
      }
      const status = ((input['filter'] ?? {}) as { tagStatus?: string }).tagStatus ?? 'ANY';
      const details = [];
      for (const [digest, tags] of images) {
        if ((status === 'TAGGED' && tags.length === 0) || (status === 'UNTAGGED' && tags.length > 0))
          continue;
        const manifest = await getManifest(url, repo, digest);
        if (manifest) details.push(await detail(region, repo, manifest, tags));
      }
      return { imageDetails: details };
    },

    async ListImages(region, input) {
      const repo = region.repo(String(input['repositoryName'] ?? '')).name;
      const status = ((input['filter'] ?? {}) as { tagStatus?: string }).tagStatus ?? 'ANY';
      const out: ImageId[] = [];
      for (const [digest, tags] of await imagesOf(region, repo)) {
        if (tags.length === 0 && status !== 'TAGGED') out.push({ imageDigest: digest });
        if (status !== 'UNTAGGED') for (const tag of tags) out.push({ imageDigest: digest, imageTag: tag });
      }
      return { imageIds: out };
    },

    async BatchGetImage(region, input) {
      const repo = region.repo(String(input['repositoryName'] ?? '')).name;
      const accepted = Array.isArray(input['acceptedMediaTypes'])
        ? (input['acceptedMediaTypes'] as string[])
        : undefined;
      const url = region.registry.url;
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
          registryId: ACCOUNT_ID,
          repositoryName: repo,
          imageId: { imageDigest: manifest.digest, ...(id.imageTag ? { imageTag: id.imageTag } : {}) },
          imageManifest: manifest.body.toString('utf8'),
          imageManifestMediaType: manifest.mediaType,
        });
      }
      return { images, failures };
    },

    async BatchDeleteImage(region, input) {
      const repo = region.repo(String(input['repositoryName'] ?? '')).name;
      const url = region.registry.url;
      const deleted: ImageId[] = [];
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
        const manifest = await getManifest(url, repo, (id.imageDigest ?? id.imageTag) as string);
        if (!manifest) {
          failures.push({
            imageId: pickId(id),
            failureCode: 'ImageNotFound',
            failureReason: 'Requested image not found',
          });
          continue;
        }
        const images = await imagesOf(region, repo);
        const tags = images.get(manifest.digest) ?? [];
        if (id.imageDigest) {
          await deleteManifest(url, repo, manifest.digest);
          if (tags.length === 0) deleted.push({ imageDigest: manifest.digest });
          for (const tag of tags) deleted.push({ imageDigest: manifest.digest, imageTag: tag });
          continue;
        }
        // The registry API cannot untag; dropping the tag link is exactly what its own Untag does.
        await rm(join(repoDir(region, repo), '_manifests', 'tags', id.imageTag as string), {
          recursive: true,
          force: true,
        });
        // ECR deletes an image together with its last tag.
        if (tags.filter((t) => t !== id.imageTag).length === 0)
          await deleteManifest(url, repo, manifest.digest);
        deleted.push({ imageDigest: manifest.digest, imageTag: id.imageTag as string });
      }
      return { imageIds: deleted, failures };
    },
  };

  const listener = await listenHttps(tls, 'ecr', async (req, res) => {
    const body = await readBody(req);
    const targetHeader = String(req.headers['x-amz-target'] ?? '');
    const op = targetHeader.startsWith(TARGET_PREFIX)
      ? targetHeader.slice(TARGET_PREFIX.length)
      : targetHeader || 'unknown';
    const auth = parseAuthorization(req.headers.authorization);
    const regionName = auth?.region ?? primary;
    const target = ecrTarget(regionName, primary);
    counters.inc(target, op);
    if (await faults.apply(target, op, req, res, style)) return;
    try {
      if (req.method !== 'POST')
        throw new EcrError('UnknownOperationException', `${req.method} is not supported`);
      if (!auth) {
        throw new EcrError(
          req.headers.authorization ? 'IncompleteSignatureException' : 'MissingAuthenticationTokenException',
          req.headers.authorization
            ? 'Authorization header requires Credential, SignedHeaders and Signature parameters.'
            : 'Missing Authentication Token',
          req.headers.authorization ? 400 : 403,
        );
      }
      const region = regions.get(auth.region);
      const credential = sts.lookup(auth.accessKeyId);
      if (!region || auth.service !== 'ecr' || !credential) {
        const known = sts.issued.some((c) => c.accessKeyId === auth.accessKeyId);
        throw new EcrError(
          known ? 'ExpiredTokenException' : 'UnrecognizedClientException',
          known
            ? 'The security token included in the request is expired'
            : !region
              ? `The security token included in the request is invalid. (test world: no ECR in region ${auth.region})`
              : 'The security token included in the request is invalid.',
        );
      }
      if (req.headers['x-amz-security-token'] !== credential.sessionToken) {
        throw new EcrError(
          'UnrecognizedClientException',
          'The security token included in the request is invalid.',
        );
      }
      if (
        !verifySigV4(auth, credential.secretAccessKey, {
          method: req.method,
          url: req.url ?? '/',
          headers: req.headers,
          body,
        })
      ) {
        throw new EcrError(
          'InvalidSignatureException',
          'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.',
        );
      }
      const handler = ops[op];
      if (!handler)
        throw new EcrError('UnknownOperationException', `Operation ${op} is not supported by the test world`);
      let input: Record<string, unknown>;
      try {
        input = body.length === 0 ? {} : (JSON.parse(body.toString('utf8')) as Record<string, unknown>);
      } catch {
        throw new EcrError('SerializationException', 'Start of structure or map found where not expected.');
      }
      send(res, 200, await handler(region, input ?? {}));
    } catch (error) {
      if (!(error instanceof EcrError)) throw error;
      sendError(res, { status: error.status, code: error.code, message: error.message });
    }
  });

  return { url: listener.url, listener, secrets: () => [...issued] };
}
