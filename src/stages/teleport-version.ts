import * as z from 'zod/mini';
import { ActionError } from '../errors.ts';
import { classifyHttp, HTTP_BACKOFF, HttpStatusError, timeoutSignal } from '../http.ts';
import { show } from '../inputs.ts';
import { remoteOnly, stage } from '../pipeline.ts';
import { retry } from '../retry.ts';

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

async function getFind(url: string, signal: AbortSignal): Promise<unknown> {
  const timeout = timeoutSignal(REQUEST_TIMEOUT_MS, signal);
  let text: string;
  let response: Response;
  try {
    response = await fetch(url, { headers: { accept: 'application/json' }, signal: timeout.signal });
    text = await response.text();
  } finally {
    timeout.clear();
  }
  if (response.status !== 200) {
    let detail = '';
    try {
      detail = String((JSON.parse(text) as { error?: { message?: unknown } }).error?.message ?? '');
    } catch {}
    throw new HttpStatusError(url, response.status, detail.slice(0, 200));
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new ActionError(`GET ${url} did not answer JSON`);
  }
}

export const teleportVersion = stage({
  name: 'teleport-version',
  needs: [],
  after: ['preflight'],
  skip: remoteOnly,
  async run(ctx, log) {
    if (ctx.inputs.teleportVersion !== 'auto') {
      ctx.facts.push({ label: 'Teleport version', value: `<code>${ctx.inputs.teleportVersion}</code>` });
      return { version: ctx.inputs.teleportVersion, from: 'input' };
    }
    const url = `https://${ctx.inputs.teleportFqdn}/webapi/find`;
    let body: unknown;
    try {
      body = await retry(() => getFind(url, ctx.signal), {
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
    log.info(`Teleport ${version} (from ${url})`);
    ctx.facts.push({ label: 'Teleport version', value: `<code>${version}</code>` });
    return { version, from: 'proxy' };
  },
});
