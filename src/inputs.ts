import { posix } from 'node:path';
import semver from 'semver';
// zod's mini entry: the same checks in a few kB, where the classic one adds ~400 kB to the bundle.
import * as z from 'zod/mini';
import { type EcrRegistry, parseEcrHost } from './ecr.ts';
import { ActionError, show } from './errors.ts';
import { DEFAULT_TOOL_VERSIONS, STRICT_VERSION, STRICT_VERSION_ALLOWED, TELEPORT_FLOOR } from './versions.ts';

export interface ChartFloor {
  chart: string;
  floor: string;
}

/** Reads one raw input by its action.yml name; `@actions/core`'s getInput in production. */
export type InputReader = (name: string) => string;

const SERVICE = /^[a-z0-9]+(-[a-z0-9]+)*$/;
// ECR repository names: https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_CreateRepository.html
const ECR_REPOSITORY = /^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*\/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$/;
const REGION = /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/;
const HOST_LABEL = '[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?';
const HOST = new RegExp(`^(?:${HOST_LABEL})(?:\\.${HOST_LABEL})*(?::(\\d{1,5}))?$`);
const ROLE_ARN = /^arn:aws(?:-[a-z]+)*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/;
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const CHART = /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/;
// Printable ASCII only: a control character or a look-alike in a single-line input is never meant.
const PRINTABLE = /^[\x20-\x7e]*$/;

function oneLine(value: string): string {
  if (!PRINTABLE.test(value))
    throw new Error('contains a control character, a line break or a non-ASCII character');
  return value;
}

function hostPort(value: string, what: string): string {
  const match = HOST.exec(oneLine(value));
  const port = match?.[1];
  if (!match || (port !== undefined && (Number(port) < 1 || Number(port) > 65535))) {
    throw new Error(`must be ${what}`);
  }
  return value;
}

function bool(value: string): boolean {
  if (/^(true|True|TRUE)$/.test(value)) return true;
  if (/^(false|False|FALSE)$/.test(value)) return false;
  throw new Error('must be true or false');
}

function strictVersion(value: string): string {
  if (!STRICT_VERSION.test(value)) throw new Error(`must be ${STRICT_VERSION_ALLOWED}`);
  return value;
}

function httpsUrl(value: string): string {
  oneLine(value);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error('must be an https:// URL');
  }
  if (url.protocol !== 'https:' || url.username || url.password || url.search || url.hash) {
    throw new Error('must be an https:// URL without credentials, query or fragment');
  }
  return value;
}

function lines(value: string): string[] {
  return value
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '');
}

function images(value: string): string[] {
  const names = value
    .split(/[,\n]/)
    .map((name) => name.trim())
    .filter((name) => name !== '');
  for (const name of names) {
    // Syntactically a repository name, but a registry host in front of one: the lookup could never find it.
    if (/\.dkr\.ecr\./.test(name)) {
      throw new Error(`${show(name)} is an image URI: give the repository name without the registry host`);
    }
    if (name.length < 2 || name.length > 256 || !ECR_REPOSITORY.test(name)) {
      throw new Error(
        `${show(name)} is not an ECR repository name: 2-256 lowercase letters, digits and . _ - / separators, e.g. db_migrator_services`,
      );
    }
  }
  return [...new Set(names)];
}

function bakePath(value: string): string {
  oneLine(value);
  if (value === '') throw new Error('must not be empty');
  if (value.includes('\\')) throw new Error('must use forward slashes');
  if (posix.isAbsolute(value))
    throw new Error('must be relative to the checked-out tree, e.g. ./kustomization');
  const normal = posix.normalize(value);
  if (normal === '..' || normal.startsWith('../')) throw new Error('must stay inside the checked-out tree');
  return normal.replace(/\/+$/, '');
}

function chartFloors(value: string): ChartFloor[] {
  return lines(value).map((line) => {
    const [chart, floor, extra] = line.split('=').map((part) => part.trim());
    if (extra !== undefined || !chart || !CHART.test(chart) || !floor || !STRICT_VERSION.test(floor)) {
      throw new Error(`line ${show(line)} must be chart=X.Y.Z, e.g. commons-app=18.1.1`);
    }
    return { chart, floor };
  });
}

function forbidden(value: string): string[] {
  const patterns = lines(value);
  for (const pattern of patterns) {
    if (!PRINTABLE.test(pattern))
      throw new Error(`pattern ${show(pattern)} contains a non-printable character`);
  }
  return patterns;
}

interface Field<T> {
  parse: (value: string) => T;
  allowed: string;
  secret?: boolean;
}

const field = <T>(parse: (value: string) => T, allowed: string, secret = false): Field<T> => ({
  parse,
  allowed,
  secret,
});

const optional =
  <T>(parse: (value: string) => T) =>
  (value: string): T | undefined =>
    value === '' ? undefined : parse(value);

const orDefault =
  <T>(parse: (value: string) => T, fallback: T) =>
  (value: string): T =>
    value === '' ? fallback : parse(value);

const matching = (pattern: RegExp, max: number) => (value: string) => {
  if (value.length > max || !pattern.test(oneLine(value))) throw new Error('does not match');
  return value;
};

const FIELDS = {
  service: field(
    matching(SERVICE, 64),
    'kebab-case ^[a-z0-9]+(-[a-z0-9]+)*$, at most 64 characters, e.g. db-migrator',
  ),
  images: field(images, 'ECR repository names separated by commas or newlines, or empty to skip the check'),
  tag: field(optional(strictVersion), `${STRICT_VERSION_ALLOWED}, or empty to take it from the event`),
  'bake-path': field(bakePath, 'a relative path inside the checked-out tree, e.g. ./kustomization'),
  checkout: field(bool, 'true or false'),
  'github-token': field(
    (value) => {
      if (!/^[\x21-\x7e]*$/.test(value)) throw new Error('contains whitespace or a non-printable character');
      return value;
    },
    'a GitHub token without whitespace, e.g. ${{ github.token }}',
    true,
  ),
  'aws-region': field(matching(REGION, 32), 'an AWS region, e.g. us-west-2'),
  'ecr-registry': field(
    (value) => hostPort(value, 'a registry host[:port]'),
    'a registry host[:port] without scheme or path, e.g. 515260921971.dkr.ecr.us-west-2.amazonaws.com',
  ),
  'aws-role-arn': field(
    matching(ROLE_ARN, 2048),
    'an IAM role ARN, e.g. arn:aws:iam::515260921971:role/teleport-image-push',
  ),
  'teleport-fqdn': field((value) => {
    hostPort(value, 'a proxy host[:port]');
    return /:\d+$/.test(value) ? value : `${value}:443`;
  }, 'the Teleport proxy as host[:port], e.g. teleport.maestra.io:443'),
  'teleport-token': field(
    optional(matching(NAME, 128)),
    'a join token name ([A-Za-z0-9._-], at most 128), or empty',
  ),
  'teleport-workload-identity': field(
    matching(NAME, 128),
    'a workload identity name ([A-Za-z0-9._-]), e.g. image-push',
  ),
  'teleport-version': field((value) => {
    if (value === 'auto') return value;
    if (!PRINTABLE.test(value) || semver.valid(value) !== value) throw new Error('must be auto or a version');
    if (semver.lt(value, TELEPORT_FLOOR)) {
      throw new Error(
        `is below ${TELEPORT_FLOOR}, the first Teleport whose workload-identity-jwt service works unflagged`,
      );
    }
    return value;
  }, `auto, or a Teleport version X.Y.Z of ${TELEPORT_FLOOR} or later, e.g. 17.4.8`),
  'flux-version': field(
    orDefault(strictVersion, DEFAULT_TOOL_VERSIONS.flux),
    `${STRICT_VERSION_ALLOWED}, or empty for the pinned default`,
  ),
  'cosign-version': field(
    orDefault(strictVersion, DEFAULT_TOOL_VERSIONS.cosign),
    `${STRICT_VERSION_ALLOWED}, or empty for the pinned default`,
  ),
  'tool-mirror': field(
    optional((value) => httpsUrl(value).replace(/\/+$/, '')),
    'an https:// URL prefix, or empty to download from upstream',
  ),
  sign: field(bool, 'true or false'),
  'certificate-identity': field(
    optional(matching(/^\S+$/, 1024)),
    'the exact expected signer (no whitespace), or empty to derive it from the run',
  ),
  'certificate-oidc-issuer': field(
    httpsUrl,
    'an https:// issuer URL, e.g. https://token.actions.githubusercontent.com',
  ),
  'forbidden-patterns': field(forbidden, 'printable literal strings, one per line'),
  'chart-version-floors': field(chartFloors, 'lines of chart=X.Y.Z, e.g. commons-app=18.1.1'),
  'wait-for-images': field((value) => {
    if (!/^\d{1,5}$/.test(value) || Number(value) > 3600)
      throw new Error('must be a whole number of seconds');
    return Number(value);
  }, 'a whole number of seconds from 0 to 3600'),
  'dry-run': field(bool, 'true or false'),
  'aws-region-secondary': field(optional(matching(REGION, 32)), 'an AWS region, or empty'),
  'ecr-registry-secondary': field(
    optional((value) => hostPort(value, 'a registry host[:port]')),
    'a registry host[:port], or empty',
  ),
  'crane-version': field(optional(matching(/^v?\d+\.\d+\.\d+$/, 32)), 'a version (ignored), or empty'),
} as const;

export type InputName = keyof typeof FIELDS;
export const INPUT_NAMES = Object.keys(FIELDS) as InputName[];

/** `bake-path` → `bakePath`: how an input is named in code. */
type Camel<S extends string> = S extends `${infer Head}-${infer Tail}`
  ? `${Head}${Capitalize<Camel<Tail>>}`
  : S;
const camel = (name: string): string => name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

type Parsed = { readonly [K in InputName as Camel<K>]: ReturnType<(typeof FIELDS)[K]['parse']> };

/** What is derived from several inputs, computed once here. */
interface Derived {
  /** `<service>-manifests` */
  readonly repository: string;
  /** `teleport-token`, or `image-push-github-actions-<service>`. */
  readonly teleportToken: string;
  /** `ecr-registry` in `aws-region`, with its account when the host is an ECR one. */
  readonly registry: EcrRegistry;
  /** The mirror's registry, from `ecr-registry-secondary` and `aws-region-secondary`; undefined without a mirror. */
  readonly secondary: EcrRegistry | undefined;
}

/** Everything the caller configured, validated and normalised: one field per input, and what derives from them. */
// The registry inputs are read through `registry` and `secondary` only.
export type Inputs = Omit<
  Parsed,
  keyof Derived | 'ecrRegistry' | 'awsRegionSecondary' | 'ecrRegistrySecondary'
> &
  Derived;

/** An ECR host names its region; ECR is called in the configured region, so the two must agree. */
function regionConflict(host: string | undefined, region: string | undefined): string | undefined {
  const named = host ? parseEcrHost(host) : undefined;
  if (!named || !region || named.region === region) return undefined;
  return `is a registry in ${named.region}, but its region input is ${region}: ECR is called there, so set the region to ${named.region} (or name the registry of ${region})`;
}

// One zod object over every input: each field runs its check and keeps its message; the pairs are checked last.
const SCHEMA = z
  .object(
    Object.fromEntries(
      INPUT_NAMES.map((name) => [
        name,
        z.pipe(
          z.string(),
          z.transform((value, ctx) => {
            try {
              return FIELDS[name].parse(value);
            } catch (error) {
              ctx.issues.push({ code: 'custom', message: (error as Error).message, input: value });
              return z.NEVER;
            }
          }),
        ),
      ]),
    ),
  )
  .check(
    z.superRefine((value, ctx) => {
      if (!value['aws-region-secondary'] !== !value['ecr-registry-secondary']) {
        ctx.addIssue({
          code: 'custom',
          path: ['aws-region-secondary'],
          message: "goes with 'ecr-registry-secondary': set both to mirror, or neither",
        });
      }
      // A mirror into the primary's own region would copy the artifact onto itself.
      if (value['aws-region-secondary'] && value['aws-region-secondary'] === value['aws-region']) {
        ctx.addIssue({
          code: 'custom',
          path: ['aws-region-secondary'],
          message: "is 'aws-region' itself: the mirror needs a second region",
        });
      }
      const pairs = [
        ['ecr-registry', value['ecr-registry'], value['aws-region']],
        ['ecr-registry-secondary', value['ecr-registry-secondary'], value['aws-region-secondary']],
      ] as const;
      for (const [name, host, region] of pairs) {
        const conflict = regionConflict(host as string | undefined, region as string | undefined);
        if (conflict) ctx.addIssue({ code: 'custom', path: [name], message: conflict });
      }
    }),
  );

/** Reads and validates every input; throws one ActionError listing each bad input. */
export function readInputs(read: InputReader): Inputs {
  const raw = Object.fromEntries(INPUT_NAMES.map((name) => [name, read(name)]));
  const result = SCHEMA.safeParse(raw);
  if (!result.success) {
    const problems = INPUT_NAMES.flatMap((name) => {
      const issues = result.error.issues.filter((issue) => issue.path[0] === name);
      if (issues.length === 0) return [];
      const spec: Field<unknown> = FIELDS[name];
      const value = spec.secret ? '(value hidden)' : show(raw[name] ?? '');
      const why = issues.map((issue) => issue.message).join('; ');
      return [`input '${name}' is ${value}: ${why}. Allowed: ${spec.allowed}.`];
    });
    throw new ActionError(problems.join('\n'), {
      hint: problems.length > 1 ? `${problems.length} inputs need fixing` : 'fix the input in the workflow',
    });
  }
  const parsed = Object.fromEntries(
    Object.entries(result.data).map(([name, value]) => [camel(name), value]),
  ) as unknown as Parsed;
  const { ecrRegistry, awsRegionSecondary, ecrRegistrySecondary, ...rest } = parsed;
  const registry = (host: string, region: string): EcrRegistry => ({
    host,
    region,
    account: parseEcrHost(host)?.account,
  });
  return {
    ...rest,
    repository: `${parsed.service}-manifests`,
    teleportToken: parsed.teleportToken ?? `image-push-github-actions-${parsed.service}`,
    registry: registry(ecrRegistry, parsed.awsRegion),
    secondary:
      awsRegionSecondary && ecrRegistrySecondary
        ? registry(ecrRegistrySecondary, awsRegionSecondary)
        : undefined,
  };
}
