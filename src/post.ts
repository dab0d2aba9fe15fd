import { rm } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import * as core from '@actions/core';
import { ROOT_PREFIX, STATE_ROOT } from './context.ts';

/** Removes the run's private directory (checkout, baked tree, docker config, tokens), also after a failed main. */
async function post(): Promise<void> {
  const root = core.getState(STATE_ROOT);
  if (!root) return;
  const temp = process.env['RUNNER_TEMP'];
  // Only ever delete the directory main created: a name of ours directly under RUNNER_TEMP.
  if (!temp || dirname(resolve(root)) !== resolve(temp) || !basename(root).startsWith(ROOT_PREFIX)) {
    core.warning(`not removing ${root}: it is not a directory this action created`);
    return;
  }
  await rm(root, { recursive: true, force: true, maxRetries: 3 });
  core.info(`removed ${root}`);
}

try {
  await post();
} catch (error) {
  core.warning(`cleanup failed: ${error instanceof Error ? error.message : String(error)}`);
}
