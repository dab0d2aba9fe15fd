import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import {
  ANNOTATIONS,
  compareArtifact,
  FLUX_MEDIA_TYPES,
  type FluxArtifact,
  parseFluxManifest,
  unpackLayer,
} from '../../src/flux-artifact.ts';
import { diffTrees, type FileTree, readTree, sameTree } from '../../src/tree.ts';
import { tempDirs, tree, writeTree } from '../support/tree.ts';
import { collectEntries, tarEntries, tarGz } from '../world/standins/lib/tarball.ts';

const tempDir = tempDirs('flux-artifact-');

const BAKED = {
  'kustomization.yaml': 'resources:\n  - deployment.yaml\n',
  'deployment.yaml': 'kind: Deployment\nimage: app:1.2.3\n',
  'sub/config.yml': 'VERSION: "1.2.3"\n',
  '.gitignore': '*.tmp\n',
  'logo.png': '\x89PNG\r\n\x1a\n',
};

describe('unpackLayer', () => {
  test('reads the files of a tarball packed the way flux packs a directory', async () => {
    const root = join(await tempDir(), 'baked');
    await writeTree(root, BAKED);
    // No ignore paths: what the action asks flux for, so .gitignore and *.png stay in.
    const layer = tarGz(collectEntries(root, { ignorePaths: [], resolveSymlinks: false }));
    const files = await unpackLayer(layer);
    assert.deepEqual([...files.keys()].sort(), Object.keys(BAKED).sort());
    assert.equal(files.get('sub/config.yml')?.toString(), BAKED['sub/config.yml']);
    assert.ok(sameTree(diffTrees(await readTree(root), files)));
  });

  test('accepts ./-prefixed names and refuses what is not gzip', async () => {
    const layer = gzipSync(
      tarEntries([
        { name: '.', type: 'dir', mode: 0o755 },
        { name: './a.yaml', type: 'file', mode: 0o644, data: Buffer.from('a') },
      ]),
    );
    assert.deepEqual([...(await unpackLayer(layer)).keys()], ['a.yaml']);
    await assert.rejects(unpackLayer(Buffer.from('plain text')), /not gzip-compressed/);
    await assert.rejects(
      unpackLayer(gzipSync(Buffer.from('not a tarball at all, just text'))),
      /not a readable tarball/,
    );
  });
});

describe('parseFluxManifest', () => {
  const good = {
    schemaVersion: 2,
    mediaType: FLUX_MEDIA_TYPES.manifest,
    config: { mediaType: FLUX_MEDIA_TYPES.config, digest: `sha256:${'c'.repeat(64)}`, size: 2 },
    layers: [{ mediaType: FLUX_MEDIA_TYPES.layer, digest: `sha256:${'a'.repeat(64)}`, size: 10 }],
    annotations: { [ANNOTATIONS.revision]: '1.2.3@sha1:abc', [ANNOTATIONS.source]: 'https://github.com/o/r' },
  };
  const parse = (value: unknown, type = FLUX_MEDIA_TYPES.manifest as string) =>
    parseFluxManifest(type, Buffer.from(JSON.stringify(value)));

  test('reads config, the one layer and the annotations of a Flux artifact', () => {
    const { manifest, problems } = parse(good);
    assert.deepEqual(problems, []);
    assert.equal(manifest?.layer.digest, good.layers[0]?.digest);
    assert.equal(manifest?.annotations[ANNOTATIONS.revision], '1.2.3@sha1:abc');
  });

  test('lists each way a manifest is not a Flux artifact', () => {
    assert.deepEqual(parse(good, 'application/vnd.docker.distribution.manifest.v2+json').problems, [
      `its manifest is application/vnd.docker.distribution.manifest.v2+json, not ${FLUX_MEDIA_TYPES.manifest}`,
    ]);
    const image = {
      ...good,
      config: { ...good.config, mediaType: 'application/vnd.oci.image.config.v1+json' },
      layers: [good.layers[0], good.layers[0]],
    };
    assert.deepEqual(parse(image).problems, [
      `its config is application/vnd.oci.image.config.v1+json, not ${FLUX_MEDIA_TYPES.config}`,
      'it has 2 layers, not one',
    ]);
    const tarLayer = {
      ...good,
      layers: [{ ...good.layers[0], mediaType: 'application/vnd.oci.image.layer.v1.tar' }],
    };
    assert.match(
      parse(tarLayer).problems.join(),
      /its layer is application\/vnd\.oci\.image\.layer\.v1\.tar/,
    );
    assert.deepEqual(parseFluxManifest('', Buffer.from('{')).problems, ['its manifest is not JSON']);
  });
});

describe('compareArtifact', () => {
  const pulled = (revision: string | undefined, files: FileTree): FluxArtifact => ({
    digest: `sha256:${'d'.repeat(64)}`,
    config: { mediaType: FLUX_MEDIA_TYPES.config, digest: `sha256:${'c'.repeat(64)}`, size: 2 },
    layer: { mediaType: FLUX_MEDIA_TYPES.layer, digest: `sha256:${'a'.repeat(64)}`, size: 10 },
    annotations: revision ? { [ANNOTATIONS.revision]: revision } : {},
    files,
  });
  const expected = { revision: '1.2.3@sha1:aaa', files: tree({ 'a.yaml': 'a', 'b.yaml': 'b' }) };

  test('same revision and bytes: no differences', () => {
    assert.deepEqual(
      compareArtifact(expected, pulled('1.2.3@sha1:aaa', tree({ 'b.yaml': 'b', 'a.yaml': 'a' }))),
      [],
    );
  });

  test('a moved tag: the revision and each file that differs are named', () => {
    const differences = compareArtifact(expected, pulled('1.2.3@sha1:bbb', tree({ 'a.yaml': 'A' })));
    assert.deepEqual(differences, [
      "its revision is 1.2.3@sha1:bbb, this run's is 1.2.3@sha1:aaa",
      'a.yaml differs from line 1',
      'b.yaml is in this bake but not in the tag',
    ]);
  });

  test('same files under another revision still differ', () => {
    assert.deepEqual(compareArtifact(expected, pulled(undefined, expected.files)), [
      "its revision is (none), this run's is 1.2.3@sha1:aaa",
    ]);
  });
});
