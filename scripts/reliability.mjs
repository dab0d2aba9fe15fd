// `npm run reliability`: runs the reliability suites (test/reliability) with their outcomes recorded, then
// writes the figures into docs/reliability.md between its figure markers, and prints them.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const DOC = 'docs/reliability.md';
const START = '<!-- figures:start (written by npm run reliability) -->';
const END = '<!-- figures:end -->';

const dir = mkdtempSync(join(tmpdir(), 'reliability-'));
const recordFile = join(dir, 'outcomes.jsonl');
const files = readdirSync('test/reliability')
  .filter((name) => name.endsWith('.test.ts'))
  .sort()
  .map((name) => join('test/reliability', name));

const started = Date.now();
const run = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-reporter=spec', '--test-concurrency=2', ...files],
  { stdio: 'inherit', env: { ...process.env, RELIABILITY_RECORD: recordFile } },
);
const seconds = Math.round((Date.now() - started) / 1000);
const rows = existsSync(recordFile)
  ? readFileSync(recordFile, 'utf8')
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => JSON.parse(line))
  : [];
rmSync(dir, { recursive: true, force: true });

const of = (kind) => rows.filter((row) => row.kind === kind);
const sum = (list, key) => list.reduce((total, row) => total + row[key], 0);
const s = (ms) => `${(ms / 1000).toFixed(1)} s`;

const faults = of('fault');
const cells = new Map();
for (const row of faults) {
  const key = `${row.remote}\u0000${row.fault}`;
  const cell = cells.get(key) ?? {
    remote: row.remote,
    fault: row.fault,
    injected: 0,
    hit: 0,
    survived: 0,
    failed: 0,
    stages: new Set(),
    ms: 0,
    boundMs: 0,
  };
  cell.injected += row.injected;
  cell.hit += row.hit;
  if (row.result === 'survived') cell.survived += row.injected;
  else {
    cell.failed += row.injected;
    if (row.stage) cell.stages.add(row.stage);
  }
  cell.ms = Math.max(cell.ms, row.ms);
  cell.boundMs = Math.max(cell.boundMs, row.boundMs);
  cells.set(key, cell);
}
const remotes = [...new Set(faults.map((row) => row.remote))];
const kinds = [...new Set(faults.map((row) => row.fault))];
const cellText = (cell) => {
  if (!cell) return '';
  if (cell.failed) return `→ ${[...cell.stages].join(', ')}`;
  return `✔ ${cell.survived}`;
};
const crashes = of('crash');
const inputs = of('input');
const secrets = of('secrets');
const withinBound = faults.filter((row) => row.ms <= row.boundMs).length;

const figures = {
  faultsInjected: sum(faults, 'injected'),
  faultsMet: faults.filter((row) => row.hit > 0).length,
  survived: faults.filter((row) => row.result === 'survived').length,
  failedWithMessage: faults.filter((row) => row.result === 'failed' && row.stage).length,
  withinBound,
  crashPoints: crashes.length,
  recovered: crashes.filter((row) => row.recovered).length,
  badInputs: inputs.length,
  rejected: inputs.filter((row) => row.rejected).length,
  runsScanned: sum(secrets, 'runs'),
  leaked: sum(secrets, 'leaked'),
};

const today = new Date().toISOString().slice(0, 10);
const lines = [
  START,
  '',
  `Measured ${today} on Node ${process.versions.node} (${process.platform}/${process.arch}), suite time ${seconds} s, by \`npm run reliability\`.`,
  '',
  '| what | figure |',
  '|---|---|',
  `| faults injected | ${figures.faultsInjected} (${figures.faultsMet} met by a request) |`,
  `| … survived through retries | ${figures.survived} |`,
  `| … failed, naming the stage and what to do | ${figures.failedWithMessage} |`,
  `| … ended within the promised time | ${figures.withinBound} of ${faults.length} |`,
  `| crash points (killed or cancelled, then post, then a re-run) | ${figures.crashPoints} |`,
  `| … recovered (same content, tag not rewritten, one signature) | ${figures.recovered} |`,
  `| bad inputs | ${figures.badInputs} |`,
  `| … rejected before any network call, naming the input | ${figures.rejected} |`,
  `| runs scanned for secrets | ${figures.runsScanned} |`,
  `| secrets leaked | ${figures.leaked} |`,
  '',
  '### Fault matrix',
  '',
  '✔ n: n faults of that kind met at that remote, and the run succeeded through retries. → stage: the run',
  'stopped in that stage with a message saying what to do, and a re-run then completed. Hang and delay past',
  'the timeout: one run each, which waits out the timeout of that remote (times in the table below).',
  '',
  `| remote | ${kinds.join(' | ')} |`,
  `|---|${kinds.map(() => '---').join('|')}|`,
  ...remotes.map(
    (remote) =>
      `| ${remote} | ${kinds.map((kind) => cellText(cells.get(`${remote}\u0000${kind}`))).join(' | ')} |`,
  ),
  '',
  '| fault | slowest run | promised |',
  '|---|---|---|',
  ...kinds.map((kind) => {
    const runs = faults.filter((row) => row.fault === kind);
    const slowest = runs.reduce((a, b) => (b.ms > a.ms ? b : a));
    return `| ${kind} | ${s(slowest.ms)} | < ${s(slowest.boundMs)} |`;
  }),
  '',
  '### Crash points',
  '',
  '| killed at | recovered | re-run | signatures | crash + re-run |',
  '|---|---|---|---|---|',
  ...crashes.map(
    (c) =>
      `| ${c.point} | ${c.recovered ? 'yes' : '**no**'} | ${c.reused ? 'reused the tag' : 'pushed'} | ${c.signatures} | ${s(c.ms)} |`,
  ),
  '',
  END,
];

const block = lines.join('\n');
const doc = existsSync(DOC) ? readFileSync(DOC, 'utf8') : '';
const at = doc.indexOf(START);
const end = doc.indexOf(END);
if (run.status === 0 && at !== -1 && end !== -1) {
  writeFileSync(DOC, `${doc.slice(0, at)}${block}${doc.slice(end + END.length)}`);
  console.log(`\nwrote the figures into ${DOC}`);
} else if (run.status === 0) {
  console.log(`\n${DOC} has no figure markers; the figures are:`);
}
console.log(`\n${block}`);
if (run.status !== 0) {
  console.error('\nthe reliability suites failed: the figures above were not written');
  process.exit(run.status ?? 1);
}
