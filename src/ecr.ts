import * as core from '@actions/core';
import type * as Sdk from '@aws-sdk/client-ecr';
import { type AwsCredentialsSource, ecrClient, ecrRetry, ecrSdk } from './aws.ts';
import { type Context, need } from './context.ts';
import { signatureLayers } from './cosign.ts';
import { ActionError } from './errors.ts';
import type { Log } from './log.ts';
import { isDigest, MEDIA_TYPES } from './oci.ts';
import { retry } from './retry.ts';

/**
 * What the action knows about Amazon ECR: which registry a host is, image and repository look-ups, the
 * repository rules a release needs, the registry authorization, stored signatures, and the commands a
 * failure message offers. Every call names the registry's account when the host says which it is.
 */

/** A registry the action talks to: its host, the region its API is called in, and its account when known. */
export interface EcrRegistry {
  host: string;
  region: string;
  /** The account of an ECR host (`<account>.dkr.ecr.<region>.amazonaws.com`); undefined for any other host. */
  account: string | undefined;
}

// https://docs.aws.amazon.com/AmazonECR/latest/userguide/Registries.html: <account>.dkr.ecr[-fips].<region>.amazonaws.com[.cn]
const ECR_HOST = /^(\d{12})\.dkr\.ecr(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?(?::\d+)?$/;

/** The account and region an ECR registry host names; undefined for any other host (a test world, a proxy cache). */
export function parseEcrHost(host: string): { account: string; region: string } | undefined {
  const match = ECR_HOST.exec(host);
  return match ? { account: match[1] as string, region: match[2] as string } : undefined;
}

/** The `--registry-id` the AWS CLI needs to reach the same registry, when it is not the caller's own. */
const registryIdFlag = (registry: EcrRegistry): string =>
  registry.account ? ` --registry-id ${registry.account}` : '';

/** The command that makes a repository immutable with signature tags left writable. */
export function fixCommand(registry: EcrRegistry, name: string): string {
  return (
    `aws ecr put-image-tag-mutability --region ${registry.region}${registryIdFlag(registry)} --repository-name ${name} ` +
    `--image-tag-mutability IMMUTABLE_WITH_EXCLUSION ` +
    `--image-tag-mutability-exclusion-filters filterType=WILDCARD,filter=sha256-*`
  );
}

/** The command that deletes a tag, for a re-bake that is really meant. */
export function deleteCommand(registry: EcrRegistry, repository: string, tag: string): string {
  return `aws ecr batch-delete-image --region ${registry.region}${registryIdFlag(registry)} --repository-name ${repository} --image-ids imageTag=${tag}`;
}

/** Signature tags stay writable; every other tag (the versions) is immutable. */
export const SIGNATURE_EXCLUSION = { filterType: 'WILDCARD', filter: 'sha256-*' } as const;

/** A tag shaped like cosign's signature tag, to test exclusion filters against. */
const SIGNATURE_TAG = `sha256-${'0'.repeat(64)}.sig`;

const wildcard = (pattern: string) =>
  new RegExp(
    `^${pattern
      .split('*')
      .map((part) => part.replace(/[.+?^${}()|[\]\\-]/g, '\\$&'))
      .join('.*')}$`,
  );

/** Whether an existing `tag` may be overwritten in a repository with this configuration (ECR's rules). */
export function tagMutable(repository: Sdk.Repository, tag: string): boolean {
  const excluded = (repository.imageTagMutabilityExclusionFilters ?? []).some(
    (f) => f.filter !== undefined && wildcard(f.filter).test(tag),
  );
  switch (repository.imageTagMutability) {
    case 'IMMUTABLE':
      return false;
    case 'IMMUTABLE_WITH_EXCLUSION':
      return excluded;
    case 'MUTABLE_WITH_EXCLUSION':
      return !excluded;
    default:
      return true;
  }
}

export interface RepositoryState {
  name: string;
  created: boolean;
  mutability: string;
  /** Its tag rules as the summary shows them, e.g. `IMMUTABLE_WITH_EXCLUSION (except sha256-*)`. */
  rules: string;
  /** Whether cosign's `sha256-<hex>.sig` tags can be rewritten (a new signature re-PUTs that tag). */
  signaturesWritable: boolean;
}

/** Judges an existing repository: refuses one where a version tag could be overwritten. */
export function judgeRepository(
  repository: Sdk.Repository,
  version: string,
  registry: EcrRegistry,
  log: Pick<Log, 'notice'>,
): Pick<RepositoryState, 'mutability' | 'signaturesWritable'> {
  const name = repository.repositoryName ?? '';
  const mutability = repository.imageTagMutability ?? 'MUTABLE';
  if (tagMutable(repository, version)) {
    throw new ActionError(
      `repository ${name} is ${mutability}: its tag ${version} could be overwritten, and a published tag must never change`,
      { hint: `make it immutable (signature tags stay writable): ${fixCommand(registry, name)}` },
    );
  }
  const signaturesWritable = tagMutable(repository, SIGNATURE_TAG);
  if (!signaturesWritable) {
    log.notice(
      `repository ${name} is ${mutability} without an exclusion for signature tags: the artifact is safe, but a later cosign signature of it may fail (cosign rewrites sha256-<hex>.sig). To allow that: ${fixCommand(registry, name)}`,
    );
  }
  return { mutability, signaturesWritable };
}

/** Splits ECR's base64 `AWS:<password>` token, or says why it cannot. */
export function parseAuthorizationToken(token: string): { user: string; password: string } {
  const decoded = Buffer.from(token, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0 || colon === decoded.length - 1) {
    throw new ActionError('ECR returned an authorization token that is not base64 user:password');
  }
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** One image's state; `absent` says why it does not count as there. */
export type ImageCheck = { image: string; name: string } & ({ digest: string } | { absent: string });

/** The registry authorization: base64 `AWS:<password>` for Basic auth, and when it stops working. */
export interface RegistryAuthorization {
  token: string;
  expiresAt: Date | undefined;
}

/** ECR's API for one registry: each call names its account, is retried when transient, and is cancellable. */
export class Ecr {
  constructor(
    private readonly client: Sdk.ECRClient,
    readonly registry: EcrRegistry,
    private readonly signal: AbortSignal,
    private readonly log: Log,
  ) {}

  static async open(
    credentials: AwsCredentialsSource,
    registry: EcrRegistry,
    signal: AbortSignal,
    log: Log,
  ): Promise<Ecr> {
    return new Ecr(await ecrClient(credentials, registry.region), registry, signal, log);
  }

  /** ECR for `registry` with the run's AWS session (fresh credentials on every call), cancelled with the run. */
  static forRun(ctx: Context, registry: EcrRegistry, log: Log): Promise<Ecr> {
    const { session } = need(ctx, 'assume');
    return Ecr.open(() => session.credentials(log), registry, ctx.signal, log);
  }

  close(): void {
    this.client.destroy();
  }

  /** `registryId` for every call that takes one: without it ECR acts on the caller's own account. */
  private get registryId(): { registryId?: string } {
    return this.registry.account ? { registryId: this.registry.account } : {};
  }

  /** One API call, retried by the ECR policy and cancelled with the run. */
  private call<T>(
    operation: string,
    request: (client: Sdk.ECRClient, options: { abortSignal: AbortSignal }) => Promise<T>,
  ): Promise<T> {
    return retry(
      () => request(this.client, { abortSignal: this.signal }),
      ecrRetry(this.signal, this.log, operation),
    );
  }

  /** What ECR stores under `repository:tag` (or `@digest`); a missing image or repository is an answer. */
  async image(repository: string, reference: string): Promise<ImageCheck> {
    const { DescribeImagesCommand } = await ecrSdk();
    const byDigest = isDigest(reference);
    const name = `${repository}${byDigest ? '@' : ':'}${reference}`;
    const imageId = byDigest ? { imageDigest: reference } : { imageTag: reference };
    try {
      const answer = await this.call(`DescribeImages ${name}`, (c, o) =>
        c.send(
          new DescribeImagesCommand({ ...this.registryId, repositoryName: repository, imageIds: [imageId] }),
          o,
        ),
      );
      const digest = answer.imageDetails?.[0]?.imageDigest;
      return digest
        ? { image: repository, name, digest }
        : { image: repository, name, absent: 'no such tag' };
    } catch (error) {
      const kind = error instanceof Error ? error.name : '';
      if (kind === 'ImageNotFoundException') return { image: repository, name, absent: 'no such tag' };
      if (kind === 'RepositoryNotFoundException') {
        return { image: repository, name, absent: `no repository ${repository}` };
      }
      throw new ActionError(`ECR DescribeImages failed for ${name} in ${this.where}`, {
        hint: `check that the role allows ecr:DescribeImages on ${repository}`,
        cause: error,
      });
    }
  }

  /** The digest ECR stores under the reference, or undefined; any failure to look is an error. */
  async stored(repository: string, reference: string): Promise<string | undefined> {
    const check = await this.image(repository, reference);
    return 'digest' in check ? check.digest : undefined;
  }

  /**
   * Describes repository `name`, creates it immutable with signature tags excluded when absent, and judges it:
   * a repository where the version tag could be overwritten is refused.
   */
  async ensureRepository(name: string, version: string): Promise<RepositoryState> {
    let found: { repository: Sdk.Repository | undefined; created: boolean };
    try {
      const existing = await this.describeRepository(name);
      found = existing ? { repository: existing, created: false } : await this.createRepository(name);
    } catch (error) {
      throw new ActionError(`cannot ensure ECR repository ${name} in ${this.where}`, {
        hint: 'check that the role allows ecr:DescribeRepositories and ecr:CreateRepository on it',
        cause: error,
      });
    }
    if (!found.repository) throw new ActionError(`ECR did not describe repository ${name} in ${this.where}`);
    const judged = judgeRepository(found.repository, version, this.registry, this.log);
    const filters = (found.repository.imageTagMutabilityExclusionFilters ?? [])
      .map((f) => f.filter)
      .join(', ');
    const rules = `${judged.mutability}${filters ? ` (except ${filters})` : ''}`;
    this.log.info(`${found.created ? 'created' : 'found'} ${name} in ${this.where}: ${rules}`);
    return { name, created: found.created, rules, ...judged };
  }

  private async describeRepository(name: string): Promise<Sdk.Repository | undefined> {
    const { DescribeRepositoriesCommand } = await ecrSdk();
    try {
      const answer = await this.call('DescribeRepositories', (c, o) =>
        c.send(new DescribeRepositoriesCommand({ ...this.registryId, repositoryNames: [name] }), o),
      );
      return answer.repositories?.[0];
    } catch (error) {
      if (error instanceof Error && error.name === 'RepositoryNotFoundException') return undefined;
      throw error;
    }
  }

  private async createRepository(
    name: string,
  ): Promise<{ repository: Sdk.Repository | undefined; created: boolean }> {
    const { CreateRepositoryCommand } = await ecrSdk();
    try {
      const answer = await this.call('CreateRepository', (c, o) =>
        c.send(
          new CreateRepositoryCommand({
            ...this.registryId,
            repositoryName: name,
            imageTagMutability: 'IMMUTABLE_WITH_EXCLUSION',
            imageTagMutabilityExclusionFilters: [{ ...SIGNATURE_EXCLUSION }],
          }),
          o,
        ),
      );
      return { repository: answer.repository, created: true };
    } catch (error) {
      // Another run created it between our describe and create: take what is there.
      if (error instanceof Error && error.name === 'RepositoryAlreadyExistsException') {
        this.log.info(`${name} was created by another run meanwhile`);
        return { repository: await this.describeRepository(name), created: false };
      }
      throw error;
    }
  }

  /** GetAuthorizationToken: one token serves every registry the role may reach; masked the moment it exists. */
  async authorization(): Promise<RegistryAuthorization> {
    const { GetAuthorizationTokenCommand } = await ecrSdk();
    let answer: Sdk.GetAuthorizationTokenCommandOutput;
    try {
      answer = await this.call(`GetAuthorizationToken in ${this.registry.region}`, (c, o) =>
        c.send(new GetAuthorizationTokenCommand({}), o),
      );
    } catch (error) {
      throw new ActionError(`ECR GetAuthorizationToken failed in ${this.registry.region}`, {
        hint: `check that the role allows ecr:GetAuthorizationToken and that ECR is reachable in ${this.registry.region}`,
        cause: error,
      });
    }
    const data = answer.authorizationData?.[0];
    const token = data?.authorizationToken;
    if (!token)
      throw new ActionError(`ECR GetAuthorizationToken in ${this.registry.region} returned no token`);
    core.setSecret(token);
    core.setSecret(parseAuthorizationToken(token).password);
    return { token, expiresAt: data.expiresAt };
  }

  /** The signatures in a cosign signature manifest, one key each, read through ECR's API (BatchGetImage). */
  async signatures(repository: string, tag: string): Promise<string[]> {
    const { BatchGetImageCommand } = await ecrSdk();
    try {
      const answer = await this.call(`BatchGetImage ${repository}:${tag}`, (c, o) =>
        c.send(
          new BatchGetImageCommand({
            ...this.registryId,
            repositoryName: repository,
            imageIds: [{ imageTag: tag }],
            acceptedMediaTypes: [MEDIA_TYPES.ociManifest, MEDIA_TYPES.dockerManifest],
          }),
          o,
        ),
      );
      const manifest = answer.images?.[0]?.imageManifest;
      if (!manifest) throw new Error(answer.failures?.[0]?.failureReason ?? 'no manifest returned');
      return signatureLayers(Buffer.from(manifest, 'utf8'));
    } catch (error) {
      throw new ActionError(`ECR ${this.where} did not return the signature manifest ${repository}:${tag}`, {
        hint: `check that the role allows ecr:BatchGetImage on ${repository}`,
        cause: error,
      });
    }
  }

  /** The registry as messages name it: its region, and its account when that is known. */
  private get where(): string {
    return this.registry.account
      ? `${this.registry.region} (account ${this.registry.account})`
      : this.registry.region;
  }
}
