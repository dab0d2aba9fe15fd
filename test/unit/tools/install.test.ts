import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { create as createTar, Header } from 'tar';
import { type Asset, assetFor, viaMirror } from '../../../src/tools/assets.ts';
import { installTool } from '../../../src/tools/install.ts';

const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

describe('installTool against a local mirror', () => {
  let server: Server;
  let mirror: string;
  let root: string;
  const files = new Map<string, Buffer>();
  /** Paths answered by hand (a cut connection, a body held back), before `files`. */
  const handlers = new Map<string, (response: ServerResponse, body: Buffer) => void>();
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
      const handler = handlers.get(request.url ?? '');
      if (handler) return handler(response, body);
      response.writeHead(200, { 'content-length': body.length }).end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    mirror = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await rm(root, { recursive: true, force: true });
  });

  let workDir: string;
  beforeEach(async () => {
    files.clear();
    handlers.clear();
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

  /** A .tar.gz written block by block, so that it can hold anything (the same path twice included). */
  function rawTarGz(members: [string, Buffer][]): Buffer {
    const blocks: Buffer[] = [];
    for (const [path, content] of members) {
      const header = Buffer.alloc(512);
      new Header({ path, size: content.length, mode: 0o755, type: 'File', mtime: new Date(0) }).encode(
        header,
        0,
      );
      blocks.push(header, content, Buffer.alloc((512 - (content.length % 512)) % 512));
    }
    return gzipSync(Buffer.concat([...blocks, Buffer.alloc(1024)]));
  }

  /** Polls `look` until it finds something (the download runs meanwhile). */
  async function waitFor<T>(look: () => Promise<T | undefined>, what: string): Promise<T> {
    for (const started = performance.now(); performance.now() - started < 10_000; ) {
      const found = await look();
      if (found !== undefined) return found;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    throw new Error(`timed out waiting for ${what}`);
  }

  /** The member written so far into the install's scratch directory, once it has all `size` bytes. */
  const extracted = (name: string, size: number) =>
    waitFor(async () => {
      for (const dir of await readdir(workDir)) {
        const path = join(workDir, dir, name);
        const info = await stat(path).catch(() => undefined);
        if (info?.size === size) return { path, mode: info.mode & 0o777 };
      }
      return undefined;
    }, `${name} to be extracted`);

  const pathOf = (url: string) => new URL(viaMirror(url, mirror)).pathname;
  const cached = (tool: string) => existsSync(join(process.env['RUNNER_TOOL_CACHE']!, tool));

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

  test('a tarball is cached only after its checksum matched, and only its binary', async () => {
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

  test('a mismatch fails, naming the URL and both hashes; nothing is kept, cached or run', async () => {
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
    assert.deepEqual(await readdir(workDir), [], 'nothing extracted is left behind');
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

  test('a checksum file without the asset fails; nothing is cached', async () => {
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

  test('the binary comes out while the archive arrives, owner-only and not executable; a mismatch deletes it', async () => {
    const asset = assetFor('flux', '2.53.0', 'amd64');
    const mark = join(root, 'ran-streamed');
    const binary = script(mark);
    // Incompressible bytes after the binary: the first half of the download holds all of it and more.
    serve(
      asset.url,
      rawTarGz([
        ['flux', binary],
        ['padding', randomBytes(1 << 20)],
      ]),
    );
    serve((asset.checksum as { url: string }).url, `${sha256('the real release')}  ${asset.file}\n`);
    let release = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    handlers.set(pathOf(asset.url), (response, body) => {
      const half = body.length >> 1;
      response.writeHead(200, { 'content-length': body.length }).write(body.subarray(0, half));
      void held.then(() => response.end(body.subarray(half)));
    });
    const installing = installTool(asset, { mirror, workDir, log });
    try {
      const member = await extracted('flux', binary.length);
      assert.equal(member.mode, 0o600, 'not executable while the rest of the download is unchecked');
      assert.deepEqual(await readFile(member.path), binary);
    } finally {
      release();
    }
    await assert.rejects(installing, /sha256 mismatch for .*flux_2\.53\.0_linux_amd64\.tar\.gz/);
    assert.deepEqual(await readdir(workDir), [], 'what was extracted is deleted');
    assert.equal(cached('flux'), false);
    assert.equal(existsSync(mark), false);
  });

  test('a download cut after the binary came out is retried, and the binary is written again from the start', async () => {
    const asset = assetFor('tbot', '17.50.3', 'amd64');
    const binary = script(join(root, 'never'));
    serveChecked(
      asset,
      rawTarGz([
        ['teleport/tbot', binary],
        ['teleport/tsh', randomBytes(1 << 20)],
      ]),
    );
    let attempts = 0;
    let cut = () => {};
    handlers.set(pathOf(asset.url), (response, body) => {
      response.writeHead(200, { 'content-length': body.length });
      if (++attempts > 1) return void response.end(body);
      response.write(body.subarray(0, body.length >> 1));
      cut = () => response.socket?.destroy();
    });
    const installing = installTool(asset, { mirror, workDir, log, retry: { sleep: async () => {} } });
    await extracted('tbot', binary.length);
    cut();
    // The second attempt creates the binary exclusively: it succeeds only if the first one's was removed.
    const installed = await installing;
    assert.equal(attempts, 2);
    assert.deepEqual(await readFile(installed.path), binary);
    assert.equal((await stat(installed.path)).mode & 0o777, 0o755);
    assert.deepEqual(await readdir(workDir), []);
  });

  test('an archive that holds its binary twice is refused although its checksum matches; nothing is cached', async () => {
    const asset = assetFor('flux', '2.54.0', 'amd64');
    const mark = join(root, 'ran-twice');
    serveChecked(
      asset,
      rawTarGz([
        ['flux', script(mark)],
        ['flux', Buffer.from('#!/bin/sh\necho the other one\n')],
      ]),
    );
    await assert.rejects(installTool(asset, { mirror, workDir, log }), /the archive holds flux 2 times/);
    assert.equal(cached('flux'), false);
    assert.deepEqual(await readdir(workDir), []);
    assert.equal(existsSync(mark), false);
  });

  test('a download that is no tar.gz fails on its checksum first, and once it matches as unreadable', async () => {
    const asset = assetFor('flux', '2.55.0', 'amd64');
    const junk = Buffer.alloc(4096, 'x');
    serve(asset.url, junk);
    serve((asset.checksum as { url: string }).url, `${sha256('the real release')}  ${asset.file}\n`);
    await assert.rejects(installTool(asset, { mirror, workDir, log }), /sha256 mismatch/);
    serveChecked(asset, junk);
    await assert.rejects(
      installTool(asset, { mirror, workDir, log }),
      /flux_2\.55\.0_linux_amd64\.tar\.gz matches its sha256 but cannot be read as a tar\.gz/,
    );
    assert.equal(cached('flux'), false);
    assert.deepEqual(await readdir(workDir), []);
  });
});
