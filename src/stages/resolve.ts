import { readFile } from 'node:fs/promises';
import { ActionError, show } from '../errors.ts';
import { stage } from '../pipeline.ts';
import type { Runner } from '../runner.ts';
import { STRICT_VERSION } from '../versions.ts';

export interface Resolved {
  version: string;
  /** Where the version came from, for the log. */
  from: 'input' | 'workflow_dispatch' | 'tag ref';
}

declare module '../context.ts' {
  interface Results {
    resolve: Resolved;
  }
}

/** Why a candidate is not a strict X.Y.Z, in words a release engineer recognises. */
function problem(candidate: string): string | undefined {
  if (STRICT_VERSION.test(candidate)) return undefined;
  if (/^[vV]\d/.test(candidate)) return 'drop the leading "v"';
  if (/^\d+\.\d+\.\d+[-+]/.test(candidate)) return 'pre-release and build suffixes are not released';
  if (/^\d+\.\d+\.\d+$/.test(candidate)) return 'leading zeros are not allowed';
  return 'it is not X.Y.Z';
}

function strict(candidate: string, where: string): string {
  const why = problem(candidate);
  if (why) {
    throw new ActionError(`${where} is ${show(candidate)}, not a strict X.Y.Z version (${why})`, {
      hint: 'tag releases as X.Y.Z, e.g. 1.4.2, or set `tag:` to one',
    });
  }
  return candidate;
}

async function dispatchTag(runner: Runner): Promise<string | undefined> {
  if (runner.eventName !== 'workflow_dispatch' || !runner.eventPath) return undefined;
  let event: unknown;
  try {
    event = JSON.parse(await readFile(runner.eventPath, 'utf8'));
  } catch (error) {
    throw new ActionError(`cannot read the workflow_dispatch event at GITHUB_EVENT_PATH`, { cause: error });
  }
  const tag = (event as { inputs?: { tag?: unknown } } | null)?.inputs?.tag;
  if (tag === undefined || tag === null || tag === '') return undefined;
  if (typeof tag !== 'string') {
    throw new ActionError('the workflow_dispatch input `tag` is not a string', {
      hint: 'dispatch with tag: X.Y.Z',
    });
  }
  return tag;
}

/** The version to bake: `tag` input, then a dispatch's `inputs.tag`, then the pushed tag. */
export async function resolveVersion(tag: string | undefined, runner: Runner): Promise<Resolved> {
  if (tag) return { version: strict(tag, "input 'tag'"), from: 'input' };
  const dispatched = await dispatchTag(runner);
  if (dispatched !== undefined) {
    return { version: strict(dispatched, 'the workflow_dispatch input `tag`'), from: 'workflow_dispatch' };
  }
  if (runner.ref?.startsWith('refs/tags/')) {
    const name = runner.refName ?? runner.ref.slice('refs/tags/'.length);
    return { version: strict(name, `the pushed tag (GITHUB_REF_NAME)`), from: 'tag ref' };
  }
  throw new ActionError(
    `no version to bake: the run is for ${show(runner.ref ?? '(no ref)')}, which is not a tag, and no \`tag\` was given`,
    { hint: 'set `tag: X.Y.Z` (e.g. from a workflow_dispatch input or the build job), or run on a tag push' },
  );
}

export const resolve = stage({
  name: 'resolve',
  needs: [],
  async run(ctx, log) {
    const resolved = await resolveVersion(ctx.inputs.tag, ctx.runner);
    log.info(`version ${resolved.version} (from ${resolved.from})`);
    ctx.outputs.set('version', resolved.version);
    return resolved;
  },
});
