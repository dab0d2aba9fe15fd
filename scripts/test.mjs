// Runs node's test runner over test/**/*.test.ts (node 20 has no --test globs).
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { loopbackListeners, ourProcesses } from './leftovers.mjs';

const only = process.argv[2]; // unit | e2e | world | undefined for all
const files = [];
const walk = (dir) => {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) walk(path);
    else if (entry.name.endsWith('.test.ts')) files.push(path);
  }
};
walk(only ? join('test', only) : 'test');
files.sort();
const extra = process.argv.slice(3);
const processesBefore = ourProcesses();
const listenersBefore = loopbackListeners();
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-reporter=spec', '--test-concurrency=2', ...extra, ...files],
  { stdio: 'inherit' },
);

// No test may leave a process or a listening port behind, also when it failed.
const strayProcesses = [...ourProcesses()].filter(([pid]) => !processesBefore.has(pid));
const strayPorts = [...loopbackListeners()].filter((port) => !listenersBefore.has(port));
for (const [pid, cmdline] of strayProcesses)
  console.error(`left running by the tests: pid ${pid}: ${cmdline}`);
for (const port of strayPorts) console.error(`left listening by the tests: 127.0.0.1:${port}`);
if (strayProcesses.length > 0 || strayPorts.length > 0) {
  console.error(
    `the tests left ${strayProcesses.length} process(es) and ${strayPorts.length} listener(s) behind`,
  );
  process.exit(1);
}
console.log('the tests left no process and no listening port behind');
process.exit(result.status ?? 1);
