import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { Runner } from '../../../src/runner.ts';
import { resolveVersion } from '../../../src/stages/resolve.ts';
import { fakeRunner } from '../../support/context.ts';

const dir = await mkdtemp(join(tmpdir(), 'bake-resolve-'));
after(() => rm(dir, { recursive: true, force: true }));

async function runner(options: { ref?: string; event?: string; payload?: unknown }): Promise<Runner> {
  const eventPath = join(dir, `${Math.random()}.json`);
  await writeFile(eventPath, JSON.stringify(options.payload ?? {}));
  const ref = options.ref;
  return fakeRunner({
    workspace: dir,
    temp: dir,
    repository: 'maestra-io/x',
    ref,
    refName: ref?.replace(/^refs\/(tags|heads)\//, ''),
    eventName: options.event ?? 'push',
    eventPath,
  });
}

const dispatch = (tag: unknown) => ({ event: 'workflow_dispatch', payload: { inputs: { tag } } });

// input tag | event | ref → version or error
const MATRIX: [string, string | undefined, Parameters<typeof runner>[0], string | RegExp][] = [
  ['input wins over everything', '2.0.0', { ...dispatch('1.1.1'), ref: 'refs/tags/1.0.0' }, '2.0.0'],
  ['input on a branch', '2.0.0', { ref: 'refs/heads/main' }, '2.0.0'],
  ['dispatch input over the ref', undefined, { ...dispatch('1.1.1'), ref: 'refs/tags/1.0.0' }, '1.1.1'],
  ['dispatch on a branch', undefined, { ...dispatch('1.1.1'), ref: 'refs/heads/main' }, '1.1.1'],
  [
    'dispatch with an empty tag falls to the tag ref',
    undefined,
    { ...dispatch(''), ref: 'refs/tags/1.0.0' },
    '1.0.0',
  ],
  ['tag ref', undefined, { ref: 'refs/tags/1.0.0' }, '1.0.0'],
  ['branch ref', undefined, { ref: 'refs/heads/main' }, /not a tag.*set `tag: X\.Y\.Z`/s],
  [
    'dispatch on a branch without a tag',
    undefined,
    { ...dispatch(undefined), ref: 'refs/heads/main' },
    /not a tag/,
  ],
  ['no ref at all', undefined, {}, /no version to bake/],
  ['v-prefixed tag ref', undefined, { ref: 'refs/tags/v1.0.0' }, /drop the leading "v"/],
  ['pre-release tag ref', undefined, { ref: 'refs/tags/1.2.3-rc1' }, /pre-release/],
  ['leading zero tag ref', undefined, { ref: 'refs/tags/1.02.3' }, /leading zeros/],
  [
    'dispatch tag with spaces',
    undefined,
    dispatch('1.2.3 --force'),
    /workflow_dispatch input `tag` is "1\.2\.3 --force"/,
  ],
  ['dispatch tag as a ref', undefined, dispatch('refs/tags/1.2.3'), /not a strict X\.Y\.Z/],
  ['dispatch tag with a newline', undefined, dispatch('1.2.3\n4.5.6'), /"1\.2\.3\\n4\.5\.6"/],
  ['dispatch tag that is not a string', undefined, dispatch(123), /not a string/],
  ['dispatch tag with a shell substitution', undefined, dispatch('$(id)'), /not a strict/],
];

for (const [name, input, options, expected] of MATRIX) {
  test(`resolve: ${name}`, async () => {
    const run = resolveVersion(input, await runner(options));
    if (typeof expected === 'string') assert.equal((await run).version, expected);
    else
      await assert.rejects(run, (error: Error) =>
        expected.test(error.message + (error as { hint?: string }).hint),
      );
  });
}

test('resolve: a dispatch event file that is not JSON fails clearly', async () => {
  const r = await runner({ event: 'workflow_dispatch' });
  await writeFile(r.eventPath!, '{not json');
  await assert.rejects(resolveVersion(undefined, r), /cannot read the workflow_dispatch event/);
});
