import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import { create as createTar } from 'tar';
import { type Asset, assetFor, viaMirror } from '../../../src/tools/assets.ts';
import { installTool } from '../../../src/tools/install.ts';

const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

describe('installTool against a local mirror', () => {
  let server: Server;
  let mirror: string;
  let root: string;
  const files = new Map<string, Buffer>();
  const requests: string[] = [];
  const log = { info: () => {} };

  // A script that leaves a mark when run: a binary that fails its checksum must never leave one.
  const script = (mark: string) => Buffer.from(`#!/bin/sh\ntouch '${mark}'\necho ran\n`);

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'tools-test-'));
    server = createServer((request, response) => {
      requests.push(request.url ?? '');
      const body = files.get(request.url ?? '');
      if (!body) {
        response.writeHead(404).end('not found');
        return;
      }
      response.writeHead(200, { 'content-length': body.length }).end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    mirror = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await new Promise((resolve) => server.close(resolve));
    await rm(root, { recursive: true, force: true });
  });

  let workDir: string;
  beforeEach(async () => {
    files.clear();
    requests.length = 0;
    const run = await mkdtemp(join(root, 'run-'));
    workDir = join(run, 'work');
    await mkdir(workDir);
    // tool-cache reads both on every call.
    process.env['RUNNER_TOOL_CACHE'] = join(run, 'toolcache');
    process.env['RUNNER_TEMP'] = join(run, 'temp');
  });

  const serve = (url: string, body: Buffer | string) =>
    files.set(new URL(viaMirror(url, mirror)).pathname, Buffer.from(body));

  /** A .tar.gz of `entries` (path → content; null for a directory), executable files included as such. */
  async function targz(entries: Record<string, string | Buffer | null>): Promise<Buffer> {
    const src = await mkdtemp(join(root, 'src-'));
    for (const [path, content] of Object.entries(entries)) {
      if (content === null) await mkdir(join(src, path), { recursive: true });
      else {
        await mkdir(join(src, path, '..'), { recursive: true });
        await writeFile(join(src, path), content, {
          mode: content.toString().startsWith('#!') ? 0o755 : 0o644,
        });
      }
    }
    const file = `${src}.tar.gz`;
    await createTar({ gzip: true, file, cwd: src }, [
      ...new Set(Object.keys(entries).map((p) => p.split('/')[0]!)),
    ]);
    return readFile(file);
  }

  const fluxTarball = (mark: string) => targz({ flux: script(mark), LICENSE: 'license' });

  /** Serves `body` as the asset and the checksum file (or .sha256) that vouches for it. */
  function serveChecked(asset: Asset, body: Buffer): void {
    serve(asset.url, body);
    serve((asset.checksum as { url: string }).url, `${sha256(body)}  ${asset.file}\n`);
  }

  test('a raw binary is checked against its checksum file, cached, and found again without a download', async () => {
    const asset = assetFor('cosign', '9.1.0', 'amd64');
    const binary = script(join(root, 'never'));
    serve(asset.url, binary);
    serve(
      (asset.checksum as { url: string }).url,
      `${sha256('other')}  cosign-linux-arm64\n${sha256(binary)}  cosign-linux-amd64\n`,
    );

    const first = await installTool(asset, { mirror, workDir, log });
    assert.equal(first.cached, false);
    assert.equal(first.version, '9.1.0');
    assert.ok(first.path.startsWith(process.env['RUNNER_TOOL_CACHE']!));
    assert.ok(first.path.endsWith('/cosign/9.1.0/amd64/cosign'), first.path);
    assert.deepEqual(await readFile(first.path), binary);
    assert.equal((await stat(first.path)).mode & 0o777, 0o755);
    assert.equal(requests.length, 2);
    assert.deepEqual(await readdir(workDir), [], 'the scratch download is removed');

    const second = await installTool(asset, { mirror, workDir, log });
    assert.deepEqual(second, { path: first.path, version: '9.1.0', cached: true });
    assert.equal(requests.length, 2, 'the second install downloads nothing');
  });

  test('a tarball is checked before extraction and only its binary is cached', async () => {
    const asset = assetFor('flux', '2.50.0', 'arm64');
    serveChecked(asset, await fluxTarball(join(root, 'never')));
    const installed = await installTool(asset, { mirror, workDir, log });
    assert.ok(installed.path.endsWith('/flux/2.50.0/arm64/flux'));
    assert.deepEqual(await readdir(join(installed.path, '..')), ['flux']);
  });

  test('tbot is taken from teleport/tbot in the Teleport archive, checked against <asset>.sha256', async () => {
    const asset = assetFor('tbot', '17.50.1', 'amd64');
    serveChecked(asset, await targz({ 'teleport/tbot': script(join(root, 'never')), 'teleport/tsh': 'tsh' }));
    const installed = await installTool(asset, { mirror, workDir, log });
    assert.ok(installed.path.endsWith('/tbot/17.50.1/amd64/tbot'));
    assert.deepEqual(await readdir(join(installed.path, '..')), ['tbot']);
  });

  test('a verified archive without its binary fails, naming archive and member; nothing is cached', async () => {
    const asset = assetFor('tbot', '17.50.2', 'amd64');
    serveChecked(asset, await targz({ 'teleport/tbot': null, 'teleport/tsh': 'tsh' }));
    await assert.rejects(
      installTool(asset, { mirror, workDir, log }),
      /teleport-v17\.50\.2-linux-amd64-bin\.tar\.gz holds no teleport\/tbot/,
      'a directory of that name is not the binary',
    );
    assert.equal(existsSync(join(process.env['RUNNER_TOOL_CACHE']!, 'tbot', '17.50.2')), false);
    assert.deepEqual(await readdir(workDir), []);
  });

  test('a mismatch fails before extraction, naming the URL and both hashes; nothing is cached or run', async () => {
    const asset = assetFor('flux', '2.51.0', 'amd64');
    const mark = join(root, 'ran-mismatch');
    const tarball = await fluxTarball(mark);
    const published = sha256('the real release');
    serve(asset.url, tarball);
    serve((asset.checksum as { url: string }).url, `${published}  flux_2.51.0_linux_amd64.tar.gz\n`);
    await assert.rejects(installTool(asset, { mirror, workDir, log }), (error: Error) => {
      assert.match(error.message, new RegExp(`sha256 mismatch for ${viaMirror(asset.url, mirror)}`));
      assert.ok(error.message.includes(`expected ${published}`));
      assert.ok(error.message.includes(`got ${sha256(tarball)}`));
      return true;
    });
    assert.deepEqual(await readdir(workDir), [], 'nothing was extracted (or left behind)');
    assert.equal(existsSync(join(process.env['RUNNER_TOOL_CACHE']!, 'flux')), false);
    assert.equal(existsSync(mark), false);
  });

  test('a pinned version never asks for a checksum file, and a wrong download fails against the pin', async () => {
    const asset = assetFor('cosign', '2.6.1', 'amd64');
    serve(asset.url, 'not cosign');
    serve(
      'https://github.com/sigstore/cosign/releases/download/v2.6.1/cosign_checksums.txt',
      `${sha256('not cosign')}  cosign-linux-amd64\n`,
    );
    await assert.rejects(
      installTool(asset, { mirror, workDir, log }),
      /sha256 mismatch .* expected 064954c5/,
    );
    assert.deepEqual(requests, [new URL(viaMirror(asset.url, mirror)).pathname]);
  });

  test('a checksum file without the asset fails before extraction', async () => {
    const asset = assetFor('flux', '2.52.0', 'amd64');
    serve(asset.url, await fluxTarball(join(root, 'never')));
    serve((asset.checksum as { url: string }).url, `${sha256('x')}  flux_2.52.0_linux_arm64.tar.gz\n`);
    await assert.rejects(
      installTool(asset, { mirror, workDir, log }),
      /flux_2\.52\.0_checksums\.txt has no sha256 for flux_2\.52\.0_linux_amd64\.tar\.gz/,
    );
    assert.equal(existsSync(join(process.env['RUNNER_TOOL_CACHE']!, 'flux')), false);
  });

  test('a missing checksum file fails with its URL and status', async () => {
    const asset = assetFor('cosign', '9.2.0', 'arm64');
    serve(asset.url, 'binary');
    await assert.rejects(installTool(asset, { mirror, workDir, log }), (error: Error) => {
      assert.match(
        error.message,
        /cannot download http:\/\/127\.0\.0\.1:\d+\/github\.com\/sigstore\/cosign\/releases\/download\/v9\.2\.0\/cosign_checksums\.txt \(HTTP 404\)/,
      );
      return true;
    });
  });

  test('a missing asset fails with its URL and status', async () => {
    const asset = assetFor('cosign', '9.3.0', 'amd64');
    serve((asset.checksum as { url: string }).url, `${sha256('x')}  cosign-linux-amd64\n`);
    await assert.rejects(
      installTool(asset, { mirror, workDir, log }),
      /cannot download .*cosign-linux-amd64 \(HTTP 404\)/,
    );
  });
});
