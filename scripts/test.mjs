// Runs node's test runner over test/**/*.test.ts (node 20 has no --test globs).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { listenersOf, markedProcesses, newRunMark, RUN_MARK } from './leftovers.mjs';

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
const mark = newRunMark();
// spec for people, TAP into a file for the closing count.
const tap = join(mkdtempSync(join(tmpdir(), 'bake-tests-')), 'results.tap');
const result = spawnSync(
  process.execPath,
  [
    '--import',
    'tsx',
    '--test',
    '--test-reporter=spec',
    '--test-reporter-destination=stdout',
    '--test-reporter=tap',
    `--test-reporter-destination=${tap}`,
    '--test-concurrency=2',
    ...extra,
    ...files,
  ],
  { stdio: 'inherit', env: { ...process.env, [RUN_MARK]: mark } },
);
const count = (name) =>
  Number(new RegExp(`^# ${name} (\\d+)$`, 'm').exec(readFileSync(tap, 'utf8'))?.[1] ?? 0);
const passed = count('pass');
const failed = count('fail') + count('cancelled');
rmSync(dirname(tap), { recursive: true, force: true });

// No test may leave a process or a listening port behind, also when it failed.
const stray = markedProcesses(mark);
const ports = listenersOf(stray.keys());
for (const [pid, cmdline] of stray) console.error(`left running by the tests: pid ${pid}: ${cmdline}`);
for (const port of ports) console.error(`left listening by the tests: 127.0.0.1:${port}`);
if (stray.size > 0) {
  console.error(`the tests left ${stray.size} process(es) and ${ports.length} listener(s) behind`);
  process.exit(1);
}
console.log('the tests left no process and no listening port behind');
console.log(`${passed} passed, ${failed} failed`);
process.exit(result.status ?? 1);
