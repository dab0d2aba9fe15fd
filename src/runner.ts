import { ActionError } from './errors.ts';
import { type Proxies, readProxies } from './proxy.ts';

/** What the runner tells the action through its environment. */
export interface Runner {
  workspace: string;
  temp: string;
  serverUrl: string;
  repository: string;
  ref: string | undefined;
  refName: string | undefined;
  eventName: string | undefined;
  eventPath: string | undefined;
  sha: string | undefined;
  runId: string;
  runAttempt: string;
  debug: boolean;
  /** Present only when the job has `permissions: id-token: write`. */
  oidcRequestUrl: string | undefined;
  /** HTTPS_PROXY, HTTP_PROXY and NO_PROXY (or lower-case), checked here so a bad value fails before any request. */
  proxies: Proxies;
}

const value = (env: NodeJS.ProcessEnv, name: string): string | undefined => {
  const found = env[name];
  return found === undefined || found === '' ? undefined : found;
};

export function readRunner(env: NodeJS.ProcessEnv): Runner {
  const temp = value(env, 'RUNNER_TEMP');
  const repository = value(env, 'GITHUB_REPOSITORY');
  if (!temp)
    throw new ActionError('RUNNER_TEMP is not set', { hint: 'run the action on a GitHub Actions runner' });
  if (!repository || !/^[\w.-]+\/[\w.-]+$/.test(repository)) {
    throw new ActionError(`GITHUB_REPOSITORY is ${JSON.stringify(repository ?? '')}, not owner/name`, {
      hint: 'run the action on a GitHub Actions runner',
    });
  }
  return {
    workspace: value(env, 'GITHUB_WORKSPACE') ?? process.cwd(),
    temp,
    serverUrl: (value(env, 'GITHUB_SERVER_URL') ?? 'https://github.com').replace(/\/+$/, ''),
    repository,
    ref: value(env, 'GITHUB_REF'),
    refName: value(env, 'GITHUB_REF_NAME'),
    eventName: value(env, 'GITHUB_EVENT_NAME'),
    eventPath: value(env, 'GITHUB_EVENT_PATH'),
    sha: value(env, 'GITHUB_SHA'),
    runId: value(env, 'GITHUB_RUN_ID') ?? '0',
    runAttempt: value(env, 'GITHUB_RUN_ATTEMPT') ?? '1',
    debug: env['RUNNER_DEBUG'] === '1',
    oidcRequestUrl: value(env, 'ACTIONS_ID_TOKEN_REQUEST_URL'),
    proxies: readProxies(env),
  };
}
