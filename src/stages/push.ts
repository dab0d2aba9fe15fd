import { toolEnv } from '../child-env.ts';
import { type Context, code, need } from '../context.ts';
import { deleteCommand } from '../ecr.ts';
import { ActionError } from '../errors.ts';
import { exec, tail } from '../exec.ts';
import {
  compareArtifact,
  type ExpectedArtifact,
  NotFluxArtifact,
  pullFluxArtifact,
} from '../flux-artifact.ts';
import { parseJson } from '../http.ts';
import type { Log } from '../log.ts';
import { isDigest, type OciClient, ociClientFor } from '../oci.ts';
import { remoteOnly, stage } from '../pipeline.ts';
import { readTree } from '../tree.ts';

export interface Pushed {
  digest: string;
  /** `<registry>/<repository>@<digest>` */
  artifact: string;
  /** The tag already held this exact content; nothing was pushed. */
  reused: boolean;
}

declare module '../context.ts' {
  interface Results {
    push: Pushed;
  }
}

/** What the tag holds compared with this run's bake. */
export type TagState =
  | { state: 'absent' }
  | { state: 'same'; digest: string }
  | { state: 'different'; digest: string; differences: string[] };

const FLUX_PUSH_TIMEOUT_MS = 10 * 60_000;

/** Looks the tag up and compares what it holds, byte for byte, with what this run would push. */
export async function tagState(
  client: OciClient,
  repository: string,
  tag: string,
  expected: ExpectedArtifact,
): Promise<TagState> {
  try {
    const actual = await pullFluxArtifact(client, repository, tag);
    if (!actual) return { state: 'absent' };
    const differences = compareArtifact(expected, actual);
    return differences.length === 0
      ? { state: 'same', digest: actual.digest }
      : { state: 'different', digest: actual.digest, differences };
  } catch (error) {
    if (error instanceof NotFluxArtifact) {
      return { state: 'different', digest: error.digest, differences: error.problems };
    }
    throw error;
  }
}

function refuse(ctx: Context, where: string, found: Extract<TagState, { state: 'different' }>): ActionError {
  const { tag } = need(ctx, 'plan');
  return new ActionError(
    `${where} already exists (${found.digest}) with different content: ${found.differences.join('; ')}`,
    {
      hint: `a published tag is never replaced; release a new version, or if re-baking ${tag} is really meant, delete it first: ${deleteCommand(ctx.inputs.registry, ctx.inputs.repository, tag)}`,
    },
  );
}

/** `flux push artifact … --output json`: the digest from its stdout, or why there is none. */
async function fluxPush(
  ctx: Context,
  log: Log,
  dir: string,
): Promise<{ digest: string } | { failed: 'raced' | ActionError }> {
  const flux = need(ctx, 'install-flux');
  const plan = need(ctx, 'plan');
  const args = [
    'push',
    'artifact',
    plan.url,
    '--path',
    dir,
    '--source',
    plan.source,
    '--revision',
    plan.revision,
    // Everything baked is pushed: flux's default ignore list would silently drop e.g. .gitignore or *.png.
    '--ignore-paths=',
    '--output',
    'json',
  ];
  log.info(`flux ${args.join(' ')}`);
  const result = await exec(flux.path, args, {
    env: toolEnv((await need(ctx, 'login').fresh(log)).dockerConfig),
    signal: ctx.signal,
    timeoutMs: FLUX_PUSH_TIMEOUT_MS,
  });
  for (const line of result.stderr.trimEnd().split('\n')) if (line) log.info(line);
  if (result.code !== 0) {
    // Two runs racing on one tag: the loser's PUT meets the immutable tag the winner just wrote.
    if (/TAG_INVALID/.test(result.stderr)) return { failed: 'raced' };
    const why = result.timedOut
      ? `timed out after ${FLUX_PUSH_TIMEOUT_MS / 60_000} min`
      : `exit ${result.code}`;
    return {
      failed: new ActionError(`flux push artifact failed (${why}):\n${tail(result.stderr)}`, {
        hint: 'see flux’s message above; a re-run is safe (the tag is looked up before pushing)',
      }),
    };
  }
  const digest = (parseJson(result.stdout) as { digest?: unknown } | undefined)?.digest;
  if (typeof digest !== 'string' || !isDigest(digest)) {
    throw new ActionError(`flux push artifact printed no sha256 digest:\n${tail(result.stdout, 10)}`, {
      hint: `check that flux ${flux.version} supports --output json`,
    });
  }
  return { digest };
}

export const push = stage({
  name: 'push',
  needs: ['plan', 'substitute', 'install-flux', 'login', 'repository'],
  // A missing image must stop the bake before anything is published.
  after: ['images'],
  skip: remoteOnly,
  async run(ctx, log) {
    const plan = need(ctx, 'plan');
    const baked = need(ctx, 'substitute');
    const { authorization } = await need(ctx, 'login').fresh(log);
    const repository = ctx.inputs.repository;
    const where = `${plan.repository}:${plan.tag}`;
    const client = ociClientFor(ctx, log, ctx.inputs.registry.host, authorization);
    const expected: ExpectedArtifact = { revision: plan.revision, files: await readTree(baked.dir) };

    const reuse = (digest: string): Pushed => {
      log.info(`${where} already holds this exact bake (${digest}); nothing pushed`);
      ctx.facts.push({
        label: 'push',
        value: ['reused ', code(digest), ': the tag already held this bake'],
      });
      return finish(ctx, digest, true);
    };
    const pushedAs = (digest: string): Pushed => {
      log.info(`pushed ${where} → ${digest}`);
      ctx.facts.push({ label: 'push', value: ['pushed ', code(digest)] });
      return finish(ctx, digest, false);
    };

    const before = await tagState(client, repository, plan.tag, expected);
    if (before.state === 'same') return reuse(before.digest);
    if (before.state === 'different') throw refuse(ctx, where, before);

    log.info(`${where} is not published yet; pushing ${expected.files.size} files`);
    const pushed = await fluxPush(ctx, log, baked.dir);
    if ('digest' in pushed) return pushedAs(pushed.digest);
    if (pushed.failed === 'raced') {
      log.info(`${where} was published by another run meanwhile; comparing it with this bake`);
    }
    // A push can land although flux saw a failure (e.g. a deadline while reading the answer): look again.
    const after = await tagState(client, repository, plan.tag, expected).catch((error: unknown) => {
      throw pushed.failed === 'raced' ? error : pushed.failed;
    });
    if (after.state === 'different') throw refuse(ctx, where, after);
    if (after.state === 'absent') {
      throw pushed.failed === 'raced'
        ? new ActionError(
            `the registry refused ${where} as an existing tag (TAG_INVALID), yet it is absent`,
            {
              hint: 're-run the job',
            },
          )
        : pushed.failed;
    }
    if (pushed.failed === 'raced') return reuse(after.digest);
    log.warning(`flux reported a failure, but ${where} holds exactly this bake; continuing`);
    return pushedAs(after.digest);
  },
});

function finish(ctx: Context, digest: string, reused: boolean): Pushed {
  const artifact = `${ctx.inputs.registry.host}/${ctx.inputs.repository}@${digest}`;
  ctx.outputs.set('digest', digest);
  ctx.outputs.set('artifact', artifact);
  ctx.outputs.set('reused', String(reused));
  return { digest, artifact, reused };
}
