import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmod, readFile, stat, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { type BakeOptions, bake, chartFindings } from '../../../src/stages/substitute.ts';
import { RecordingLog } from '../../support/log.ts';
import { sourceAndTarget, tempDirs } from '../../support/tree.ts';

const P = '${APP_PACKAGE_VERSION_TO_BE_REPLACED}';
const options: BakeOptions = {
  version: '1.4.2',
  forbiddenPatterns: ['515260921971.dkr.ecr.eu-central-1.amazonaws.com'],
  chartFloors: [
    { chart: 'commons-app', floor: '18.1.1' },
    { chart: 'external-vault-agent', floor: '4.3.1' },
  ],
  displayPrefix: 'kustomization',
};

const tempDir = tempDirs('bake-sub-');
const tree = async (files: Record<string, string | Buffer>) => sourceAndTarget(await tempDir(), files);

describe('substitute', () => {
  test('replaces the placeholder in yaml and yml files, counts per file, leaves the brace-less mention', async () => {
    const { source, target } = await tree({
      'a.yaml': `image: x:${P}\nlabel: "${P}"\n# $APP_PACKAGE_VERSION_TO_BE_REPLACED stays\n`,
      'sub/b.yml': `v: ${P}\n`,
      'sub/c.YAML': 'plain: true\n',
      'notes.txt': 'mentions $APP_PACKAGE_VERSION_TO_BE_REPLACED without braces\n',
    });
    const log = new RecordingLog();
    const files = await bake(source, target, options, log);
    assert.deepEqual(files, [
      { path: 'a.yaml', replaced: 2 },
      { path: 'notes.txt', replaced: 0 },
      { path: 'sub/b.yml', replaced: 1 },
      { path: 'sub/c.YAML', replaced: 0 },
    ]);
    assert.equal(
      await readFile(join(target, 'a.yaml'), 'utf8'),
      'image: x:1.4.2\nlabel: "1.4.2"\n# $APP_PACKAGE_VERSION_TO_BE_REPLACED stays\n',
    );
    assert.equal(await readFile(join(target, 'sub/b.yml'), 'utf8'), 'v: 1.4.2\n');
    // The source tree is never modified.
    assert.match(await readFile(join(source, 'a.yaml'), 'utf8'), /APP_PACKAGE_VERSION_TO_BE_REPLACED\}/);
    assert.deepEqual(log.of('error'), []);
  });

  test('keeps bytes that are not UTF-8 and file modes', async () => {
    const bytes = Buffer.from([0xff, 0xfe, 0x00, 0x80, 0x41]);
    const { source, target } = await tree({ 'bin.dat': bytes, 'run.yaml': `x: ${P}\n` });
    await chmod(join(source, 'run.yaml'), 0o755);
    await bake(source, target, options, new RecordingLog());
    assert.deepEqual(await readFile(join(target, 'bin.dat')), bytes);
    assert.equal((await stat(join(target, 'run.yaml'))).mode & 0o777, 0o755);
  });

  test('a placeholder surviving in a file of any other extension is refused with file:line', async () => {
    const { source, target } = await tree({
      'ok.yaml': `v: ${P}\n`,
      'config/app.json': `{\n  "version": "${P}"\n}\n`,
      'script.sh': `echo 1\necho 2\necho ${P}\n`,
    });
    const log = new RecordingLog();
    await assert.rejects(bake(source, target, options, log), (error: Error) => {
      assert.match(error.message, /2 problem/);
      assert.match(error.message, /kustomization\/config\/app\.json:2 still holds/);
      assert.match(error.message, /kustomization\/script\.sh:3 still holds/);
      return true;
    });
    assert.deepEqual(
      log.of('error').map((line) => line.at),
      [
        { file: 'kustomization/config/app.json', line: 2 },
        { file: 'kustomization/script.sh', line: 3 },
      ],
    );
  });

  test('forbidden patterns are errors with file:line, in any file', async () => {
    const { source, target } = await tree({
      'deploy.yaml': 'a: 1\nimage: 515260921971.dkr.ecr.eu-central-1.amazonaws.com/app:1\n',
      'README.md': 'old registry 515260921971.dkr.ecr.eu-central-1.amazonaws.com\n',
    });
    const log = new RecordingLog();
    await assert.rejects(bake(source, target, options, log), /deploy\.yaml:2 mentions the forbidden/);
    assert.deepEqual(
      log.of('error').map((line) => line.at),
      [
        { file: 'kustomization/README.md', line: 1 },
        { file: 'kustomization/deploy.yaml', line: 2 },
      ],
    );
  });

  test('chart pins below their floor are warnings with file:line; at or above, or other charts, are not', async () => {
    const helm = [
      'apiVersion: helm.toolkit.fluxcd.io/v2',
      'kind: HelmRelease',
      'spec:',
      '  chart:',
      '    spec:',
      '      chart: commons-app',
      '      version: "18.0.3"',
      '---',
      'spec:',
      '  chart:',
      '    spec:',
      '      chart: external-vault-agent',
      '      version: 4.3.1',
      '---',
      'spec: {chart: {spec: {chart: other, version: 0.0.1}}}',
      '---',
      'spec:',
      '  chart:',
      '    spec:',
      '      chart: commons-app',
      '      version: ">=17.0.0"',
      '',
    ].join('\n');
    const { source, target } = await tree({ 'helm.yaml': helm });
    const log = new RecordingLog();
    await bake(source, target, options, log);
    const warnings = log.of('warning');
    assert.deepEqual(
      warnings.map((w) => w.at),
      [
        { file: 'kustomization/helm.yaml', line: 7 },
        { file: 'kustomization/helm.yaml', line: 21 },
      ],
    );
    assert.match(warnings[0]?.message ?? '', /commons-app is pinned to 18\.0\.3, below the floor 18\.1\.1/);
  });

  test('chart findings skip documents that do not parse', async () => {
    assert.deepEqual(await chartFindings('chart: [unclosed\n', options.chartFloors, 'x.yaml'), []);
  });

  test('a symlink is refused, even one pointing inside the tree', async () => {
    const { source, target } = await tree({ 'a.yaml': 'a: 1\n' });
    await symlink('a.yaml', join(source, 'link.yaml'));
    await assert.rejects(
      bake(source, target, options, new RecordingLog()),
      /kustomization\/link\.yaml is a symlink; flux would silently leave it out/,
    );
  });

  test('a special file is refused', async () => {
    const { source, target } = await tree({ 'a.yaml': 'a: 1\n' });
    execFileSync('mkfifo', [join(source, 'pipe')]);
    await assert.rejects(
      bake(source, target, options, new RecordingLog()),
      /pipe is not a regular file or directory/,
    );
  });

  test('an empty tree is refused', async () => {
    const { source, target } = await tree({});
    await assert.rejects(bake(source, target, options, new RecordingLog()), /holds no files/);
  });
});
