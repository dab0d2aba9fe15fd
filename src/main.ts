import * as core from '@actions/core';
import { type Context, createRoot, STATE_ROOT } from './context.ts';
import { ActionError, describeError } from './errors.ts';
import { useProxies } from './http.ts';
import { readInputs } from './inputs.ts';
import { runPipeline, type Timing } from './pipeline.ts';
import { readRunner } from './runner.ts';
import { STAGES } from './stages/index.ts';
import { writeSummary } from './summary.ts';

async function main(): Promise<void> {
  // Masked before anything else can print it.
  const token = core.getInput('github-token');
  if (token) core.setSecret(token);

  let ctx: Context;
  const abort = new AbortController();
  // A cancelled job (the runner sends SIGINT, then SIGTERM) stops its tools and requests, reports, and exits.
  const cancel = (signal: NodeJS.Signals) =>
    abort.abort(
      new ActionError(`the job was cancelled (${signal})`, {
        hint: 're-run the job: it looks at what is published before writing anything',
      }),
    );
  process.once('SIGINT', cancel);
  process.once('SIGTERM', cancel);
  try {
    const inputs = readInputs((name) => core.getInput(name));
    const runner = readRunner(process.env);
    useProxies(runner.proxies);
    const root = await createRoot(runner);
    core.saveState(STATE_ROOT, root);
    ctx = { inputs, runner, root, signal: abort.signal, results: {}, facts: [], outputs: new Map() };
  } catch (error) {
    core.setFailed(`inputs: ${describeError(error)}`);
    return;
  }
  if (ctx.inputs.craneVersion) {
    core.notice(`crane-version ${ctx.inputs.craneVersion} is ignored: the mirror copies without crane`);
  }

  const timings: Timing[] = [];
  let failure: unknown;
  try {
    await runPipeline(ctx, STAGES, abort, timings);
  } catch (error) {
    failure = error;
  }
  for (const [name, value] of ctx.outputs) core.setOutput(name, value);
  try {
    await writeSummary(ctx, timings, failure, STAGES);
  } catch (error) {
    core.warning(`could not write the job summary: ${describeError(error)}`);
  }
  if (failure !== undefined) core.setFailed(describeError(failure));
}

await main();
