import type { ECRClient, Repository } from '@aws-sdk/client-ecr';
import { ecrClient, ecrRetry, ecrSdk } from '../aws.ts';
import { type Context, need } from '../context.ts';
import { ActionError } from '../errors.ts';
import type { Log } from '../log.ts';
import { remoteOnly, stage } from '../pipeline.ts';
import { retry } from '../retry.ts';

export interface RepositoryState {
  name: string;
  created: boolean;
  mutability: string;
  /** Its tag rules as the summary shows them, e.g. `IMMUTABLE_WITH_EXCLUSION (except sha256-*)`. */
  rules: string;
  /** Whether cosign's `sha256-<hex>.sig` tags can be rewritten (a new signature re-PUTs that tag). */
  signaturesWritable: boolean;
}

declare module '../context.ts' {
  interface Results {
    repository: RepositoryState;
  }
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
export function tagMutable(repository: Repository, tag: string): boolean {
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

export function fixCommand(region: string, name: string): string {
  return (
    `aws ecr put-image-tag-mutability --region ${region} --repository-name ${name} ` +
    `--image-tag-mutability IMMUTABLE_WITH_EXCLUSION ` +
    `--image-tag-mutability-exclusion-filters filterType=WILDCARD,filter=sha256-*`
  );
}

/** Judges an existing repository: refuses one where a version tag could be overwritten. */
export function judgeRepository(
  repository: Repository,
  version: string,
  region: string,
  log: Log,
): Pick<RepositoryState, 'mutability' | 'signaturesWritable'> {
  const name = repository.repositoryName ?? '';
  const mutability = repository.imageTagMutability ?? 'MUTABLE';
  if (tagMutable(repository, version)) {
    throw new ActionError(
      `repository ${name} is ${mutability}: its tag ${version} could be overwritten, and a published tag must never change`,
      { hint: `make it immutable (signature tags stay writable): ${fixCommand(region, name)}` },
    );
  }
  const signaturesWritable = tagMutable(repository, SIGNATURE_TAG);
  if (!signaturesWritable) {
    log.notice(
      `repository ${name} is ${mutability} without an exclusion for signature tags: the artifact is safe, but a later cosign signature of it may fail (cosign rewrites sha256-<hex>.sig). To allow that: ${fixCommand(region, name)}`,
    );
  }
  return { mutability, signaturesWritable };
}

async function describe(client: ECRClient, name: string, signal: AbortSignal, log: Log) {
  const { DescribeRepositoriesCommand } = await ecrSdk();
  try {
    const answer = await retry(
      () =>
        client.send(new DescribeRepositoriesCommand({ repositoryNames: [name] }), { abortSignal: signal }),
      ecrRetry(signal, log, 'DescribeRepositories'),
    );
    return answer.repositories?.[0];
  } catch (error) {
    if (error instanceof Error && error.name === 'RepositoryNotFoundException') return undefined;
    throw error;
  }
}

async function create(client: ECRClient, name: string, signal: AbortSignal, log: Log) {
  const { CreateRepositoryCommand } = await ecrSdk();
  try {
    const answer = await retry(
      () =>
        client.send(
          new CreateRepositoryCommand({
            repositoryName: name,
            imageTagMutability: 'IMMUTABLE_WITH_EXCLUSION',
            imageTagMutabilityExclusionFilters: [{ ...SIGNATURE_EXCLUSION }],
          }),
          { abortSignal: signal },
        ),
      ecrRetry(signal, log, 'CreateRepository'),
    );
    return { repository: answer.repository, created: true };
  } catch (error) {
    // Another run created it between our describe and create: take what is there.
    if (error instanceof Error && error.name === 'RepositoryAlreadyExistsException') {
      log.info(`${name} was created by another run meanwhile`);
      return { repository: await describe(client, name, signal, log), created: false };
    }
    throw error;
  }
}

/**
 * Describes repository `name` in `region`, creates it immutable with signature tags excluded when absent,
 * and judges it by the rules above; the `repository` stage and the mirror both ensure theirs through it.
 */
export async function ensureRepository(
  ctx: Context,
  region: string,
  name: string,
  version: string,
  log: Log,
): Promise<RepositoryState> {
  const client = await ecrClient(ctx, region);
  let found: { repository: Repository | undefined; created: boolean };
  try {
    const existing = await describe(client, name, ctx.signal, log);
    found = existing ? { repository: existing, created: false } : await create(client, name, ctx.signal, log);
  } catch (error) {
    if (error instanceof ActionError) throw error;
    throw new ActionError(`cannot ensure ECR repository ${name} in ${region}`, {
      hint: 'check that the role allows ecr:DescribeRepositories and ecr:CreateRepository on it',
      cause: error,
    });
  } finally {
    client.destroy();
  }
  if (!found.repository) throw new ActionError(`ECR did not describe repository ${name} in ${region}`);
  const judged = judgeRepository(found.repository, version, region, log);
  const filters = (found.repository.imageTagMutabilityExclusionFilters ?? []).map((f) => f.filter).join(', ');
  const rules = `${judged.mutability}${filters ? ` (except ${filters})` : ''}`;
  log.info(`${found.created ? 'created' : 'found'} ${name} in ${region}: ${rules}`);
  return { name, created: found.created, rules, ...judged };
}

export const repository = stage({
  name: 'repository',
  needs: ['resolve', 'assume'],
  skip: remoteOnly,
  async run(ctx, log) {
    const name = ctx.inputs.repository;
    const { version } = need(ctx, 'resolve');
    const state = await ensureRepository(ctx, ctx.inputs.awsRegion, name, version, log);
    ctx.facts.push({
      label: 'repository',
      value: `<code>${name}</code> ${state.created ? 'created' : 'exists'}, ${state.rules}`,
    });
    return state;
  },
});
