// Runs node's test runner over test/**/*.test.ts (node 20 has no --test globs).
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listenersOf, markedProcesses, newRunMark, RUN_MARK } from './leftovers.mjs';

const only = process.argv[2]; // unit | e2e | world | repo | reliability | undefined for all
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
const scratch = mkdtempSync(join(tmpdir(), 'bake-tests-'));
// spec for people, TAP into a file for the closing count.
const tap = join(scratch, 'results.tap');
// The tests' temporary files live under the run's own directory, which goes when the run ends, failed or not.
const temp = join(scratch, 'tmp');
mkdirSync(temp);
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
  { stdio: 'inherit', env: { ...process.env, [RUN_MARK]: mark, TMPDIR: temp } },
);
const count = (name) =>
  Number(new RegExp(`^# ${name} (\\d+)$`, 'm').exec(readFileSync(tap, 'utf8'))?.[1] ?? 0);
const passed = count('pass');
const failed = count('fail') + count('cancelled');
// tsx keeps its compile cache there (tsx-<uid>); anything else is a test's.
const leftTemp = readdirSync(temp).filter((name) => !name.startsWith('tsx-'));
rmSync(scratch, { recursive: true, force: true });

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
if (leftTemp.length > 0)
  console.log(
    `removed ${leftTemp.length} temporary entries the tests left: ${leftTemp.slice(0, 5).join(' ')}…`,
  );
console.log(`${passed} passed, ${failed} failed`);
process.exit(result.status ?? 1);
