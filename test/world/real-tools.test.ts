import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { list } from 'tar';
import { MIRROR_PATHS } from './mirror.ts';
import { publishRealTools } from './real-tools.ts';

test('real tools from PATH are published at the upstream paths with matching checksum files', async () => {
  const bin = await mkdtemp(join(tmpdir(), 'bake-real-bin-'));
  const saved = process.env['PATH'];
  try {
    await writeFile(join(bin, 'flux'), '#!/bin/sh\necho real flux\n', { mode: 0o755 });
    await writeFile(join(bin, 'cosign'), '#!/bin/sh\necho real cosign\n', { mode: 0o755 });
    process.env['PATH'] = `${bin}:${saved}`;
    const published = new Map<string, Buffer>();
    await publishRealTools(async (path, bytes) => void published.set(path, bytes), {
      flux: '9.9.9',
      cosign: '8.8.8',
    });
    const arch = process.arch === 'arm64' ? 'arm64' : 'amd64';
    const archive = published.get(MIRROR_PATHS.flux('9.9.9', arch));
    const cosign = published.get(MIRROR_PATHS.cosign('8.8.8', arch));
    assert.ok(archive && cosign);
    assert.equal(cosign.toString(), '#!/bin/sh\necho real cosign\n');
    const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
    assert.equal(
      published.get(MIRROR_PATHS.fluxChecksums('9.9.9'))?.toString(),
      `${sha(archive)}  flux_9.9.9_linux_${arch}.tar.gz\n`,
    );
    assert.equal(
      published.get(MIRROR_PATHS.cosignChecksums('8.8.8'))?.toString(),
      `${sha(cosign)}  cosign-linux-${arch}\n`,
    );
    const archivePath = join(bin, 'flux.tgz');
    await writeFile(archivePath, archive);
    const names: string[] = [];
    await list({ file: archivePath, onReadEntry: (entry) => void names.push(entry.path) });
    assert.deepEqual(names, ['flux']);
  } finally {
    process.env['PATH'] = saved;
    await rm(bin, { recursive: true, force: true });
  }
});

test('a missing real tool is named with what to do', async () => {
  const saved = process.env['PATH'];
  process.env['PATH'] = '/nonexistent';
  try {
    await assert.rejects(
      publishRealTools(async () => {}, { flux: '1.0.0', cosign: '1.0.0' }),
      /flux is not on PATH/,
    );
  } finally {
    process.env['PATH'] = saved;
  }
});
