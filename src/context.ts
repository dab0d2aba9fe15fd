import { mkdir, mkdtemp } from 'node:fs/promises';
import { join } from 'node:path';
import type { Inputs } from './inputs.ts';
import type { Runner } from './runner.ts';

/**
 * What each stage produces, keyed by stage name. Each stage module adds its own entry
 * (declaration merging), so a stage's product is declared next to the code that makes it.
 */
// biome-ignore lint/suspicious/noEmptyInterface: filled in by the stage modules
export interface Results {}

export type StageName = keyof Results & string;

/**
 * Words for the job summary, as data: plain text, a code span, lines, or a sequence of these. Only the
 * summary turns them into HTML (escaping everything), so no stage writes markup.
 */
export type Text = string | { readonly code: string } | { readonly lines: readonly Text[] } | readonly Text[];

/** A code span: a digest, a path, an identity. */
export const code = (value: string): Text => ({ code: value });

/** Items shown one per line. */
export const lines = (items: readonly Text[]): Text => ({ lines: items });

/** A row of the job summary's facts table, added by the stage that knows it. */
export interface Fact {
  label: string;
  value: Text;
}

/** Built once per run: the validated inputs, the runner, private directories and what stages produced. */
export interface Context {
  readonly inputs: Inputs;
  readonly runner: Runner;
  /** Private (0700) directory under RUNNER_TEMP; the post step removes it with everything inside. */
  readonly root: string;
  readonly signal: AbortSignal;
  readonly results: Partial<Results>;
  readonly facts: Fact[];
  /** The same run's outputs, set by stages as they learn them. */
  readonly outputs: Map<string, string>;
}

export const ROOT_PREFIX = 'bake-oci-manifests-';

/** The runner state key under which main hands the run's root directory to post. */
export const STATE_ROOT = 'root';

export async function createRoot(runner: Runner): Promise<string> {
  await mkdir(runner.temp, { recursive: true });
  return mkdtemp(join(runner.temp, ROOT_PREFIX));
}

/** A private subdirectory of the run's root, made on first use. */
export async function privateDir(ctx: Pick<Context, 'root'>, name: string): Promise<string> {
  const dir = join(ctx.root, name);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  return dir;
}

/** The product of an earlier stage that this one declared in `needs`. */
export function need<N extends StageName>(ctx: Context, name: N): Results[N] {
  const result = ctx.results[name];
  if (result === undefined) throw new Error(`internal: stage '${name}' has not produced its result`);
  return result as Results[N];
}
