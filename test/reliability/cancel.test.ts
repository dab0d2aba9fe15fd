// A cancelled job: the runner sends SIGINT (then SIGTERM) to main alone. Main must stop the tool it is
// waiting on, report the cancellation, and exit within seconds; post cleans up; a re-run recovers.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { addToolFault, clearCalls, clearToolFaults, readCalls } from '../world/standins/control.ts';
import { type Lab, signatures, since, startLab, why } from './lab.ts';
import { record } from './record.ts';

const CASES = [
  { service: 'cancel-push', tool: 'flux', command: 'push', signal: 'SIGTERM' },
  { service: 'cancel-sign', tool: 'cosign', command: 'sign', signal: 'SIGINT' },
] as const;

/** From the signal to main's exit: the tool's SIGTERM, its 2 s grace, the summary. */
const EXIT_BOUND_MS = 5_000;

let lab: Lab;
before(async () => {
  lab = await startLab(CASES.map((c) => c.service));
});
after(() => lab?.stop());

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

for (const c of CASES) {
  test(`${c.signal} while ${c.tool} ${c.command} hangs: the tool is stopped, the run says so, a re-run recovers`, async () => {
    const { world } = lab;
    clearToolFaults(world.controlDir);
    clearCalls(world.controlDir);
    addToolFault(world.controlDir, { tool: c.tool, command: c.command, mode: 'hang' });
    const calls = () =>
      readCalls(world.controlDir, c.tool).filter((call) => call.command.startsWith(c.command));
    let signalled = 0;
    const start = performance.now();
    const cancelled = await lab.bake(
      c.service,
      {},
      {
        killSignal: c.signal,
        killWhen: () => {
          if (calls().length === 0) return false;
          signalled = performance.now();
          return true;
        },
      },
    );
    const exitMs = Math.round(performance.now() - signalled);
    assert.ok(signalled > 0, why(cancelled));
    assert.equal(cancelled.code, 1, why(cancelled));
    assert.ok(exitMs < EXIT_BOUND_MS, `main exited ${exitMs} ms after ${c.signal}`);
    assert.match(
      cancelled.failure ?? '',
      new RegExp(`the job was cancelled \\(${c.signal}\\) — re-run the job`),
    );
    assert.match(cancelled.summary, /cancelled/);
    const pid = calls()[0]?.pid ?? 0;
    assert.equal(alive(pid), false, `${c.tool} (pid ${pid}) was stopped with main`);

    clearToolFaults(world.controlDir);
    const rerun = await lab.bake(c.service);
    const repository = `${c.service}-manifests`;
    const digest = rerun.outputs['digest'] ?? '';
    const signed = await signatures(world, repository, digest);
    record({
      kind: 'crash',
      point: `${c.command === 'push' ? 'push' : 'sign'}: ${c.signal} (job cancelled) while ${c.tool} ${c.command} hangs`,
      recovered: rerun.code === 0 && signed === 1,
      digest,
      reused: rerun.outputs['reused'] === 'true',
      signatures: signed,
      ms: since(start),
    });
    assert.equal(rerun.code, 0, why(rerun));
    assert.equal(digest, await world.tagDigest(world.region, repository, '1.2.3'));
    assert.equal(signed, 1);
  });
}
