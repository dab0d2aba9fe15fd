// What the ECR emulation keeps itself: registries per (account, region), their repositories, issued registry passwords.
import type { RegistryProcess } from '../registry.ts';
import { EcrError } from './errors.ts';
import type { RegistryAuth, RegistryToken } from './recorder.ts';

/** The account of the default role (DEFAULT_ROLE_ARN): the registry `registryHost` fronts. */
export const DEFAULT_ACCOUNT = '515260921971';

/** An AWS account id as ECR's `registryId` takes it. */
export const ACCOUNT_PATTERN = /^[0-9]{12}$/;

export const MUTABILITIES = [
  'MUTABLE',
  'IMMUTABLE',
  'IMMUTABLE_WITH_EXCLUSION',
  'MUTABLE_WITH_EXCLUSION',
] as const;
export type Mutability = (typeof MUTABILITIES)[number];

export interface ExclusionFilter {
  filterType: 'WILDCARD';
  filter: string;
}

export interface RepositoryMeta {
  readonly name: string;
  readonly createdAt: Date;
  mutability: Mutability;
  filters: ExclusionFilter[];
}

const REPO_NAME = /^(?=.{2,256}$)(?:[a-z0-9]+(?:[._-][a-z0-9]+)*\/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$/;

export function validateRepositoryName(name: unknown): string {
  if (typeof name !== 'string' || !REPO_NAME.test(name)) {
    throw new EcrError(
      'InvalidParameterException',
      `Invalid parameter at 'repositoryName' failed to satisfy constraint: 'must satisfy regular expression '(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*' and length between 2 and 256'`,
    );
  }
  return name;
}

/** Checks mutability and exclusion filters the way CreateRepository / PutImageTagMutability do. */
export function validateMutability(
  mutability: unknown,
  filters: unknown,
): { mutability: Mutability; filters: ExclusionFilter[] } {
  const value = mutability ?? 'MUTABLE';
  if (typeof value !== 'string' || !(MUTABILITIES as readonly string[]).includes(value)) {
    throw new EcrError(
      'InvalidParameterException',
      `Invalid parameter at 'imageTagMutability' failed to satisfy constraint: 'Member must satisfy enum value set: [${MUTABILITIES.join(', ')}]'`,
    );
  }
  const m = value as Mutability;
  const withExclusion = m === 'IMMUTABLE_WITH_EXCLUSION' || m === 'MUTABLE_WITH_EXCLUSION';
  if (
    filters === undefined ||
    filters === null ||
    (Array.isArray(filters) && filters.length === 0 && !withExclusion)
  ) {
    if (withExclusion) {
      throw new EcrError(
        'InvalidParameterException',
        `imageTagMutabilityExclusionFilters must be specified when imageTagMutability is ${m}`,
      );
    }
    return { mutability: m, filters: [] };
  }
  if (!withExclusion) {
    throw new EcrError(
      'InvalidParameterException',
      `imageTagMutabilityExclusionFilters can only be specified when imageTagMutability is IMMUTABLE_WITH_EXCLUSION or MUTABLE_WITH_EXCLUSION`,
    );
  }
  if (!Array.isArray(filters) || filters.length < 1 || filters.length > 5) {
    throw new EcrError(
      'InvalidParameterException',
      `Invalid parameter at 'imageTagMutabilityExclusionFilters' failed to satisfy constraint: 'Member must have length between 1 and 5'`,
    );
  }
  return {
    mutability: m,
    filters: filters.map((f: unknown) => {
      const { filterType, filter } = (f ?? {}) as Record<string, unknown>;
      if (filterType !== 'WILDCARD') {
        throw new EcrError(
          'InvalidParameterException',
          `Invalid parameter at 'filterType' failed to satisfy constraint: 'Member must satisfy enum value set: [WILDCARD]'`,
        );
      }
      if (typeof filter !== 'string' || !/^[0-9a-zA-Z._*-]{1,128}$/.test(filter)) {
        throw new EcrError(
          'InvalidParameterException',
          `Invalid parameter at 'filter' failed to satisfy constraint: 'Member must satisfy regular expression pattern: ^[0-9a-zA-Z._*-]{1,128}'`,
        );
      }
      return { filterType: 'WILDCARD' as const, filter };
    }),
  };
}

const wildcard = (pattern: string) =>
  new RegExp(
    `^${pattern
      .split('*')
      .map((p) => p.replace(/[.+?^${}()|[\]\\-]/g, '\\$&'))
      .join('.*')}$`,
  );

/** Whether an existing `tag` in this repository may not be overwritten. */
export function tagIsImmutable(meta: RepositoryMeta, tag: string): boolean {
  const excluded = meta.filters.some((f) => wildcard(f.filter).test(tag));
  switch (meta.mutability) {
    case 'MUTABLE':
      return false;
    case 'IMMUTABLE':
      return true;
    case 'IMMUTABLE_WITH_EXCLUSION':
      return !excluded;
    case 'MUTABLE_WITH_EXCLUSION':
      return excluded;
  }
}

/** Registry passwords GetAuthorizationToken issued in one region: one token serves every account's registry there. */
export class RegionTokens {
  readonly #passwords = new Map<string, RegistryToken>();

  constructor(readonly region: string) {}

  add(password: string, token: RegistryToken): void {
    this.#passwords.set(password, token);
  }

  /** How a `Basic base64(AWS:password)` header fares here, and the token it carries when the region issued it. */
  check(authorization: string | undefined): { auth: RegistryAuth; token?: RegistryToken } {
    const m = /^Basic\s+(\S+)$/i.exec(authorization ?? '');
    if (!m?.[1]) return { auth: authorization ? 'invalid' : 'none' };
    const decoded = Buffer.from(m[1], 'base64').toString('utf8');
    const token = decoded.startsWith('AWS:') ? this.#passwords.get(decoded.slice(4)) : undefined;
    if (!token) return { auth: 'invalid' };
    return { auth: token.expiresAt.getTime() > Date.now() ? 'ok' : 'expired', token };
  }
}

/** One private registry: an account's registry in one region, with its own docker-registry process and front. */
export class RegistryState {
  readonly repos = new Map<string, RepositoryMeta>();
  /** `127.0.0.1:<port>` of this registry's front, set once it listens. */
  frontHost = '';

  constructor(
    readonly account: string,
    readonly region: string,
    readonly registry: RegistryProcess,
    readonly tokens: RegionTokens,
    /** Counter/fault target of the front: registryTarget(region, account). */
    readonly target: string,
  ) {}

  repositoryNotFound(name: string): EcrError {
    return new EcrError(
      'RepositoryNotFoundException',
      `The repository with name '${name}' does not exist in the registry with id '${this.account}'`,
    );
  }

  repo(name: string): RepositoryMeta {
    const meta = this.repos.get(name);
    if (!meta) throw this.repositoryNotFound(name);
    return meta;
  }

  create(name: unknown, mutability: unknown, filters: unknown): RepositoryMeta {
    const repositoryName = validateRepositoryName(name);
    const checked = validateMutability(mutability, filters);
    if (this.repos.has(repositoryName)) {
      throw new EcrError(
        'RepositoryAlreadyExistsException',
        `The repository with name '${repositoryName}' already exists in the registry with id '${this.account}'`,
      );
    }
    const meta: RepositoryMeta = { name: repositoryName, createdAt: new Date(), ...checked };
    this.repos.set(repositoryName, meta);
    return meta;
  }

  describe(meta: RepositoryMeta): Record<string, unknown> {
    return {
      repositoryArn: `arn:aws:ecr:${this.region}:${this.account}:repository/${meta.name}`,
      registryId: this.account,
      repositoryName: meta.name,
      repositoryUri: `${this.frontHost}/${meta.name}`,
      createdAt: meta.createdAt.getTime() / 1000,
      imageTagMutability: meta.mutability,
      ...(meta.filters.length > 0 ? { imageTagMutabilityExclusionFilters: meta.filters } : {}),
      imageScanningConfiguration: { scanOnPush: false },
      encryptionConfiguration: { encryptionType: 'AES256' },
    };
  }
}

/** Every registry of the world, by (account, region). */
export class Registries {
  readonly #byKey = new Map<string, RegistryState>();

  constructor(registries: Iterable<RegistryState>) {
    for (const r of registries) this.#byKey.set(`${r.account}/${r.region}`, r);
  }

  get(account: string, region: string): RegistryState | undefined {
    return this.#byKey.get(`${account}/${region}`);
  }

  /** Whether the world has ECR in this region at all. */
  hasRegion(region: string): boolean {
    return this.all().some((r) => r.region === region);
  }

  all(): RegistryState[] {
    return [...this.#byKey.values()];
  }
}
