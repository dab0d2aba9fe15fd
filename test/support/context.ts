import type { Context, Fact, Results } from '../../src/context.ts';
import { readInputs } from '../../src/inputs.ts';
import { DIRECT } from '../../src/proxy.ts';
import type { Runner } from '../../src/runner.ts';
import { inputReader } from './inputs.ts';

/** What a test sets on a fakeContext(); everything else is a plain default. */
export interface ContextOverrides {
  /** Raw inputs by their action.yml names, on top of action.yml's defaults and `service: svc`. */
  inputs?: Record<string, string>;
  runner?: Partial<Runner>;
  /** Default: a path that does not exist, so a stage that writes must be given a real one. */
  root?: string;
  /** Default: a signal that never aborts. */
  signal?: AbortSignal;
  /** Products of earlier stages, typed as the stages declare them (ctx.results.login, .assume, …). */
  results?: Partial<Results>;
  facts?: Fact[];
  outputs?: Record<string, string>;
}

/** A runner on github.com that says only what `overrides` adds: no ref, no event, no OIDC. */
export function fakeRunner(overrides: Partial<Runner> = {}): Runner {
  return {
    workspace: '/nonexistent/workspace',
    temp: '/nonexistent/temp',
    serverUrl: 'https://github.com',
    repository: 'maestra-io/sample-service',
    ref: undefined,
    refName: undefined,
    eventName: undefined,
    eventPath: undefined,
    sha: undefined,
    runId: '1',
    runAttempt: '1',
    debug: false,
    oidcRequestUrl: undefined,
    proxies: DIRECT,
    ...overrides,
  };
}

/** A typed Context as main builds it, the inputs parsed by readInputs as on a runner. */
export async function fakeContext(overrides: ContextOverrides = {}): Promise<Context> {
  return {
    inputs: readInputs(await inputReader({ service: 'svc', ...overrides.inputs })),
    runner: fakeRunner(overrides.runner),
    root: overrides.root ?? '/nonexistent/root',
    signal: overrides.signal ?? new AbortController().signal,
    results: overrides.results ?? {},
    facts: overrides.facts ?? [],
    outputs: new Map(Object.entries(overrides.outputs ?? {})),
  };
}
