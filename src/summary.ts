import * as core from '@actions/core';
import type { Context } from './context.ts';
import { describeError } from './errors.ts';
import type { Timing } from './pipeline.ts';

const STATUS: Record<Timing['status'], string> = {
  ok: '✅ ok',
  failed: '❌ failed',
  skipped: '⏭️ skipped',
  'not run': '— not run',
};

const code = (value: string) => (value === '' ? ' ' : `<code>${escapeHtml(value)}</code>`);
export const escapeHtml = (value: string) =>
  value.replace(/[&<>|]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '|': '&#124;' })[c] ?? c);

/** The job summary: what was baked (or would be), the facts stages reported, and the stage timeline. */
export async function writeSummary(ctx: Context, timings: Timing[], failure: unknown): Promise<void> {
  const version = ctx.outputs.get('version') ?? '';
  const title = `bake-oci-manifests: ${ctx.inputs.repository}${version ? `:${version}` : ''}`;
  const s = core.summary.addHeading(escapeHtml(title), 3);
  if (failure !== undefined)
    s.addRaw(`<p>❌ <b>Failed</b> — ${escapeHtml(describeError(failure))}</p>`, true);
  else if (ctx.inputs.dryRun)
    s.addRaw('<p>🧪 <b>Dry run</b>: local checks only, nothing was pushed.</p>', true);
  const outputs = ['version', 'digest', 'artifact', 'reused']
    .filter((name) => ctx.outputs.has(name))
    .map((name) => [{ data: name }, { data: code(ctx.outputs.get(name) ?? '') }]);
  const facts = ctx.facts.map((fact) => [{ data: escapeHtml(fact.label) }, { data: fact.value }]);
  const rows = [...outputs, ...facts];
  if (rows.length > 0)
    s.addTable([
      [
        { data: 'what', header: true },
        { data: 'value', header: true },
      ],
      ...rows,
    ]);
  const ordered = [...timings].sort(
    (a, b) => (a.status === 'not run' ? 1 : 0) - (b.status === 'not run' ? 1 : 0) || a.start - b.start,
  );
  s.addTable([
    [
      { data: 'stage', header: true },
      { data: 'status', header: true },
      { data: 'start', header: true },
      { data: 'duration', header: true },
      { data: 'note', header: true },
    ],
    ...ordered.map((t) => [
      { data: t.stage },
      { data: STATUS[t.status] },
      { data: t.status === 'not run' ? ' ' : `${(t.start / 1000).toFixed(2)} s` },
      {
        data: t.status === 'ok' || t.status === 'failed' ? `${((t.end - t.start) / 1000).toFixed(2)} s` : ' ',
      },
      { data: escapeHtml(t.note ?? '') || ' ' },
    ]),
  ]);
  await s.write();
}
