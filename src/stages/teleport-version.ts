import semver from 'semver';
import * as z from 'zod/mini';
import { code } from '../context.ts';
import { ActionError, show } from '../errors.ts';
import { classifyHttp, getJson, HTTP_BACKOFF } from '../http.ts';
import { remoteOnly, stage } from '../pipeline.ts';
import { retry } from '../retry.ts';
import { TELEPORT_FLOOR } from '../versions.ts';

declare module '../context.ts' {
  interface Results {
    'teleport-version': { version: string; from: 'input' | 'proxy' };
  }
}

const REQUEST_TIMEOUT_MS = 15_000;
// A version goes into a download URL: plain X.Y.Z with an optional pre-release, nothing else.
const VERSION = /^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?$/;

const FIND = z.object({
  server_version: z.optional(z.string()),
  auto_update: z.nullish(z.partial(z.object({ tools_version: z.optional(z.string()) }))),
});

/** The tools version from a `/webapi/find` body: `auto_update.tools_version`, else `server_version`. */
export function versionFromFind(body: unknown): string | undefined {
  const parsed = FIND.safeParse(body);
  if (!parsed.success) return undefined;
  const version = parsed.data.auto_update?.tools_version || parsed.data.server_version;
  return version?.replace(/^v/, '');
}

export const teleportVersion = stage({
  name: 'teleport-version',
  needs: [],
  after: ['preflight'],
  skip: remoteOnly,
  async run(ctx, log) {
    // An explicit teleport-version below the floor is refused with the inputs.
    if (ctx.inputs.teleportVersion !== 'auto') {
      ctx.facts.push({ label: 'Teleport version', value: code(ctx.inputs.teleportVersion) });
      return { version: ctx.inputs.teleportVersion, from: 'input' };
    }
    const url = `https://${ctx.inputs.teleportFqdn}/webapi/find`;
    let body: unknown;
    try {
      body = await retry(() => getJson(url, { signal: ctx.signal, timeoutMs: REQUEST_TIMEOUT_MS }), {
        ...HTTP_BACKOFF,
        classify: classifyHttp,
        signal: ctx.signal,
        onRetry: (error, n, ms) =>
          log.info(`attempt ${n}: ${(error as Error).message}; retrying in ${ms} ms`),
      });
    } catch (error) {
      throw new ActionError(`cannot learn the Teleport version from ${url}`, {
        hint: 'check `teleport-fqdn`, or set `teleport-version` to the cluster version',
        cause: error,
      });
    }
    const version = versionFromFind(body);
    if (!version || !VERSION.test(version)) {
      throw new ActionError(
        `${url} gave no usable version (auto_update.tools_version or server_version is ${show(String(version ?? 'missing'))})`,
        { hint: 'set `teleport-version` to the cluster version' },
      );
    }
    if (semver.lt(version, TELEPORT_FLOOR)) {
      throw new ActionError(
        `the Teleport cluster at ${ctx.inputs.teleportFqdn} runs ${version}; the workload-identity-jwt service this action uses needs ${TELEPORT_FLOOR} or later`,
        {
          hint: `upgrade the cluster to Teleport ${TELEPORT_FLOOR} or later (older clusters issue these JWTs only behind an experiment flag); nothing was downloaded`,
        },
      );
    }
    log.info(`Teleport ${version} (from ${url})`);
    ctx.facts.push({ label: 'Teleport version', value: code(version) });
    return { version, from: 'proxy' };
  },
});
