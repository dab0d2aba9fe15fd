// The benchmark's lower bound: the longest chain of unavoidable waits through the stage graph (STAGES' needs and
// after) at the latency model's costs, plus the measured start of each process on it. Derived from the model and
// the graph alone, never from a run's stage timings.
import type { StageName } from '../../src/context.ts';
import type { Stage } from '../../src/pipeline.ts';
import { LATENCY } from './latency.ts';

export const SCENARIOS = ['cold', 'warm', 'rerun'] as const;
/** cold: empty tool cache, new version; warm: cached tools, new version; rerun: cached tools, a finished bake again. */
export type Scenario = (typeof SCENARIOS)[number];

export type Service = 'sts' | 'ecr' | 'registry' | 'teleport' | 'oidc' | 'mirror';
export type ToolCommand = keyof typeof LATENCY.tools;
export type Tool = 'tbot' | 'flux' | 'cosign';
export type Asset = keyof typeof LATENCY.assetBytes;

/** What one request to each service costs in the model. */
export const REQUEST_MS: Record<Service, number> = {
  sts: LATENCY.awsApiMs,
  ecr: LATENCY.awsApiMs,
  registry: LATENCY.registryMs,
  teleport: LATENCY.teleportMs,
  oidc: LATENCY.oidcMs,
  mirror: LATENCY.downloadFirstByteMs,
};

const SERVICE_NAMES: Record<Service, string> = {
  sts: 'STS',
  ecr: 'ECR',
  registry: 'registry',
  teleport: 'Teleport',
  oidc: 'OIDC',
  mirror: 'mirror',
};

/**
 * The requests each tool command makes, one after another, as the stand-ins make them (test/world/standins) for
 * the bench's bake: a digest reference, one signature, the Flux config blob already in the repository.
 */
export const TOOL_REQUESTS: Record<ToolCommand, { service: Service; count: number; what: string }[]> = {
  'tbot start': [
    { service: 'oidc', count: 1, what: "the runner's token" },
    { service: 'teleport', count: 1, what: 'join for the JWT' },
  ],
  'flux push': [
    {
      service: 'registry',
      count: 7,
      what: 'ping; layer HEAD, POST, PATCH, PUT; config HEAD (present); manifest PUT',
    },
  ],
  'cosign sign': [
    {
      service: 'registry',
      count: 12,
      what: 'ping; the manifest; .sig tag (absent); payload and config HEAD, POST, PATCH, PUT each; .sig PUT',
    },
  ],
  'cosign verify': [
    { service: 'registry', count: 4, what: 'ping; .sig manifest; the payload blob and its redirect to S3' },
  ],
  'flux pull': [],
};

const TOOL_OF: Record<ToolCommand, Tool> = {
  'tbot start': 'tbot',
  'flux push': 'flux',
  'flux pull': 'flux',
  'cosign sign': 'cosign',
  'cosign verify': 'cosign',
};

/** One unavoidable wait of a stage. */
export type Wait =
  | { request: Service; count?: number; what: string }
  | { download: Asset }
  | { tool: ToolCommand }
  /** Waits side by side: the longest counts. */
  | { alongside: Wait[] };

const request = (service: Service, what: string, count = 1): Wait => ({ request: service, count, what });
/** A tool download with its checksum file alongside (a pinned version has none; the bench's versions are not). */
const install = (asset: Asset): Wait => ({
  alongside: [{ download: asset }, request('mirror', 'checksum file')],
});

/**
 * What each stage of the bench's bake must wait for, per scenario: one image to check, signing on with the
 * identity taken from the run's token, no second region. Stages not named here do local work only (resolve,
 * preflight, substitute, plan; checkout fetches from a local git) or are skipped (mirror).
 */
export function waits(stage: StageName, scenario: Scenario): Wait[] {
  const cold = scenario === 'cold';
  const published = scenario === 'rerun';
  switch (stage) {
    case 'teleport-version':
      return [request('teleport', 'GET /webapi/find')];
    case 'install-tbot':
      return cold ? [install('teleport')] : [];
    case 'install-flux':
      return cold ? [install('flux')] : [];
    case 'install-cosign':
      return cold ? [install('cosign')] : [];
    case 'teleport':
      return [{ tool: 'tbot start' }];
    case 'assume':
      return [request('sts', 'AssumeRoleWithWebIdentity')];
    case 'login':
      return [request('ecr', 'GetAuthorizationToken')];
    case 'images':
      return [request('ecr', 'DescribeImages, every image at once')];
    case 'repository':
      return [request('ecr', 'DescribeRepositories (it exists)')];
    case 'push':
      return published
        ? [request('registry', 'the tag: manifest, layer and its redirect to S3 (the same bake: reused)', 3)]
        : [request('registry', "the tag's manifest (absent)"), { tool: 'flux push' }];
    case 'sign':
      return [
        { alongside: [request('oidc', 'token for Sigstore'), request('registry', 'HEAD of the .sig tag')] },
        // A re-run finds the .sig tag and lets `cosign verify` decide; it passes, so nothing is signed.
        { tool: published ? 'cosign verify' : 'cosign sign' },
      ];
    case 'verify-signature':
      // After a re-run's check before signing there is nothing left to verify.
      return published ? [] : [{ tool: 'cosign verify' }];
    case 'verify-artifact':
      return [request('registry', 'manifest by digest, layer and its redirect to S3, HEAD of the tag', 4)];
    default:
      return [];
  }
}

/** Measured in the bench's own run: spawn to exit of an empty process of the action's node and of each tool. */
export interface Starts {
  node: number;
  tbot: number;
  flux: number;
  cosign: number;
}

/** A wait with its cost and how it was reckoned. */
export interface Term {
  ms: number;
  text: string;
}

const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const mb = (bytes: number) => `${Math.round(bytes / 1e6)} MB`;

/** The cost of one wait, and its derivation in words. */
export function term(wait: Wait, starts: Starts): Term {
  if ('request' in wait) {
    const count = wait.count ?? 1;
    const each = REQUEST_MS[wait.request];
    const name = SERVICE_NAMES[wait.request];
    const cost = count > 1 ? `${count} ${name} requests × ${each} ms` : `${name} ${each} ms`;
    return { ms: count * each, text: `${wait.what}: ${cost}` };
  }
  if ('download' in wait) {
    const bytes = LATENCY.assetBytes[wait.download];
    const streaming = (bytes / LATENCY.downloadBytesPerSecond) * 1000;
    return {
      ms: LATENCY.downloadFirstByteMs + streaming,
      text: `${wait.download} asset: ${LATENCY.downloadFirstByteMs} ms to the first byte + ${mb(bytes)} at ${mb(LATENCY.downloadBytesPerSecond)}/s ${s(streaming)}`,
    };
  }
  if ('tool' in wait) {
    const start = starts[TOOL_OF[wait.tool]];
    const own = LATENCY.tools[wait.tool];
    const requests = TOOL_REQUESTS[wait.tool].map((r) => term(request(r.service, r.what, r.count), starts));
    const parts = [
      `process start ${s(start)} (measured)`,
      `own work ${s(own)}`,
      ...requests.map((r) => r.text),
    ];
    return {
      ms: start + own + requests.reduce((sum, r) => sum + r.ms, 0),
      text: `${wait.tool}: ${parts.join(' + ')}`,
    };
  }
  const branches = wait.alongside.map((w) => term(w, starts));
  const longest = branches.reduce((a, b) => (b.ms > a.ms ? b : a));
  const others = branches.filter((b) => b !== longest).map((b) => b.text);
  return { ms: longest.ms, text: `${longest.text} (alongside: ${others.join('; ')})` };
}

export interface StageCost {
  stage: StageName;
  ms: number;
  terms: Term[];
}

export function stageCost(stage: StageName, scenario: Scenario, starts: Starts): StageCost {
  const terms = waits(stage, scenario).map((w) => term(w, starts));
  return { stage, ms: terms.reduce((sum, t) => sum + t.ms, 0), terms };
}

export interface Bound {
  scenario: Scenario;
  /** The action's own process start plus the longest chain. */
  ms: number;
  /** Stages of the longest chain, first to last, each with its cost. */
  chain: StageCost[];
  nodeStartMs: number;
}

/**
 * The longest chain through the stage graph: a stage starts once every stage in its `needs` and `after` has
 * ended, so it ends at the latest of those ends plus its own cost.
 */
export function bound(
  stages: readonly Pick<Stage, 'name' | 'needs' | 'after'>[],
  scenario: Scenario,
  starts: Starts,
): Bound {
  const byName = new Map(stages.map((st) => [st.name, st]));
  const ends = new Map<StageName, { ms: number; chain: StageCost[] }>();
  const visiting = new Set<StageName>();
  const endOf = (name: StageName): { ms: number; chain: StageCost[] } => {
    const known = ends.get(name);
    if (known) return known;
    const st = byName.get(name);
    if (!st) throw new Error(`stage graph: unknown stage ${name}`);
    if (visiting.has(name)) throw new Error(`stage graph: a cycle through ${name}`);
    visiting.add(name);
    // The latest of what it waits for; on a tie the first named, so stages that cost nothing stay on the chain.
    let before: { ms: number; chain: StageCost[] } | undefined;
    for (const dep of [...st.needs, ...(st.after ?? [])]) {
      const end = endOf(dep);
      if (!before || end.ms > before.ms) before = end;
    }
    visiting.delete(name);
    const cost = stageCost(name, scenario, starts);
    const end = { ms: (before?.ms ?? 0) + cost.ms, chain: [...(before?.chain ?? []), cost] };
    ends.set(name, end);
    return end;
  };
  let last: { ms: number; chain: StageCost[] } | undefined;
  for (const st of stages) {
    const end = endOf(st.name);
    if (!last || end.ms > last.ms) last = end;
  }
  return { scenario, ms: starts.node + (last?.ms ?? 0), chain: last?.chain ?? [], nodeStartMs: starts.node };
}

/** The bound with its derivation, one line per stage of the chain. */
export function derivation(b: Bound): string[] {
  const lines = [
    `${b.scenario} bound ${s(b.ms)}: the longest chain of unavoidable waits through the stage graph at the model's costs, with each process start measured in this run`,
    `  ${'(node)'.padEnd(17)}${s(b.nodeStartMs).padStart(8)}  the action's own process: start (measured)`,
  ];
  for (const cost of b.chain) {
    const idle = cost.stage.startsWith('install-') ? 'found in the tool cache' : 'local work only';
    const what = cost.terms.length ? cost.terms.map((t) => t.text).join(', then ') : idle;
    lines.push(`+ ${cost.stage.padEnd(17)}${s(cost.ms).padStart(8)}  ${what}`);
  }
  lines.push(`= ${''.padEnd(17)}${s(b.ms).padStart(8)}`);
  return lines;
}

/** Every request a scenario's run makes in the model, per service: to be checked against what the world counted. */
export function requestsPerService(
  stages: readonly Pick<Stage, 'name'>[],
  scenario: Scenario,
): Record<Service, number> {
  const counts: Record<Service, number> = { sts: 0, ecr: 0, registry: 0, teleport: 0, oidc: 0, mirror: 0 };
  const add = (wait: Wait): void => {
    if ('request' in wait) counts[wait.request] += wait.count ?? 1;
    else if ('download' in wait) counts.mirror += 1;
    else if ('tool' in wait) for (const r of TOOL_REQUESTS[wait.tool]) counts[r.service] += r.count;
    else for (const w of wait.alongside) add(w);
  };
  for (const st of stages) for (const wait of waits(st.name, scenario)) add(wait);
  return counts;
}
