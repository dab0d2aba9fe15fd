import * as core from '@actions/core';
import type { Context, Text } from './context.ts';
import { describeError } from './errors.ts';
import type { Timing } from './pipeline.ts';
import { criticalPath, type Graph, ganttBar, lastEnd, sequentialMs } from './timeline.ts';

const STATUS: Record<Timing['status'], string> = {
  ok: '✅ ok',
  failed: '❌ failed',
  skipped: '⏭️ skipped',
  'not run': '— not run',
};

/** The order a reader wants the facts in, whatever order the stages finished in; others go last. */
const FACT_ORDER = [
  'would push',
  'target',
  'revision',
  'source',
  'commit',
  'files baked',
  'files substituted',
  'images verified',
  'repository',
  'push',
  'pulled back',
  'signature',
  'signer identity',
  'signer issuer',
  'signature verified',
  'mirror',
  'Teleport version',
  'workload identity',
  'role',
  'registry',
  'tbot',
  'flux',
  'cosign',
];
const rank = (label: string) => {
  const at = FACT_ORDER.indexOf(label);
  return at === -1 ? FACT_ORDER.length : at;
};

/** Cells of the timeline column: wide enough to tell stages apart, narrow enough for the table. */
const BAR_CELLS = 24;

const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
// `|` too: the summary's tables are also read as Markdown, where it would split a cell.
const escapeHtml = (value: string) =>
  value.replace(/[&<>|]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '|': '&#124;' })[c] ?? c);

// Array.isArray does not narrow a readonly array type.
const isSequence = (text: Text): text is readonly Text[] => Array.isArray(text);

/** A fact's words as HTML: the only place the summary's markup is written, everything escaped. */
export function html(text: Text): string {
  if (typeof text === 'string') return escapeHtml(text);
  if (isSequence(text)) return text.map(html).join('');
  if ('code' in text) return `<code>${escapeHtml(text.code)}</code>`;
  return text.lines.map(html).join('<br>');
}

/**
 * The job summary: what was baked (or would be), the facts stages reported, and the stage timeline with the
 * critical path through `graph` (the stages' needs and after).
 */
export async function writeSummary(
  ctx: Context,
  timings: Timing[],
  failure: unknown,
  graph: Graph,
): Promise<void> {
  const version = ctx.outputs.get('version') ?? '';
  const title = `bake-oci-manifests: ${ctx.inputs.repository}${version ? `:${version}` : ''}`;
  const s = core.summary.addHeading(escapeHtml(title), 3);
  if (failure !== undefined)
    s.addRaw(`<p>❌ <b>Failed</b> — ${escapeHtml(describeError(failure))}</p>`, true);
  else if (ctx.inputs.dryRun)
    s.addRaw('<p>🧪 <b>Dry run</b>: local checks only, nothing was pushed.</p>', true);
  const outputs = ['version', 'digest', 'artifact', 'reused']
    .filter((name) => ctx.outputs.has(name))
    .map((name) => [{ data: name }, { data: html({ code: ctx.outputs.get(name) ?? '' }) || ' ' }]);
  const facts = [...ctx.facts]
    .sort((a, b) => rank(a.label) - rank(b.label))
    .map((fact) => [{ data: escapeHtml(fact.label) }, { data: html(fact.value) }]);
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
  const path = criticalPath(timings, graph);
  const onPath = new Set<string>(path.stages.map((t) => t.stage));
  const total = lastEnd(timings);
  s.addTable([
    [
      { data: 'stage', header: true },
      { data: 'status', header: true },
      { data: 'start', header: true },
      { data: 'duration', header: true },
      { data: 'timeline', header: true },
      { data: 'note', header: true },
    ],
    ...ordered.map((t) => [
      { data: t.stage },
      { data: STATUS[t.status] },
      { data: t.status === 'not run' ? ' ' : seconds(t.start) },
      { data: t.status === 'ok' || t.status === 'failed' ? seconds(t.end - t.start) : ' ' },
      { data: `<code>${ganttBar(t, total, BAR_CELLS, onPath.has(t.stage) ? '█' : '▒')}</code>` },
      { data: escapeHtml(t.note ?? '') || ' ' },
    ]),
  ]);
  if (path.stages.length > 0) {
    s.addRaw(
      `<p>⏱️ The stages ended ${seconds(total)} after the action started; one after another they would take ${seconds(sequentialMs(timings))}. Critical path, ${seconds(path.ms)}: ${path.stages.map((t) => t.stage).join(' → ')} (█ in the timeline; ▒ ran alongside).</p>`,
      true,
    );
  }
  await s.write();
}
