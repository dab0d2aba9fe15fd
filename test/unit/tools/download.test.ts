import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { download, downloadTo, type Sink } from '../../../src/tools/download.ts';

const BODY = Buffer.from('the release asset\n'.repeat(1000));
/** What the server does with each request, in order; then it serves BODY. */
let plan: ((res: ServerResponse) => void)[] = [];
let requests = 0;
/** The paths asked for, in order. */
let paths: string[] = [];
let base: string;
let dir: string;
const server = createServer((req, res) => {
  requests++;
  paths.push(req.url ?? '');
  const next = plan.shift();
  if (next) return next(res);
  res.writeHead(200, { 'content-length': BODY.length }).end(BODY);
});
const quick = { log: { info: () => {} }, retry: { sleep: async () => {} }, stallMs: 200 };

before(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  dir = await mkdtemp(join(tmpdir(), 'download-test-'));
});
after(async () => {
  server.closeAllConnections();
  server.close();
  await rm(dir, { recursive: true, force: true });
});

const fresh = async () => join(await mkdtemp(join(dir, 'd-')), 'asset');

test('server errors and throttling are retried, and the sha256 is of the bytes kept', async () => {
  plan = [(res) => res.writeHead(503).end(), (res) => res.writeHead(429).end()];
  requests = 0;
  const dest = await fresh();
  const { path, sha256 } = await download(`${base}/a`, dest, quick);
  assert.equal(requests, 3);
  assert.deepEqual(await readFile(path), BODY);
  assert.equal(sha256, createHash('sha256').update(BODY).digest('hex'));
});

test('a server that stops sending is abandoned after the stall time and asked again', async () => {
  // Headers and half the body, then silence: the partial file goes, the second attempt completes.
  plan = [(res) => res.writeHead(200, { 'content-length': BODY.length }).write(BODY.subarray(0, 100))];
  requests = 0;
  const dest = await fresh();
  const start = performance.now();
  await download(`${base}/b`, dest, quick);
  assert.equal(requests, 2);
  assert.ok(performance.now() - start < 3_000);
  assert.deepEqual(await readFile(dest), BODY);
});

test('redirects are followed to where the asset is (as GitHub sends it to a storage host)', async () => {
  plan = [
    (res) => res.writeHead(302, { location: '/storage/asset?sig=1' }).end(),
    (res) => res.writeHead(307, { location: `${base}/storage/final` }).end(),
  ];
  requests = 0;
  paths = [];
  const dest = await fresh();
  const { sha256 } = await download(`${base}/releases/download/v1/asset`, dest, quick);
  assert.deepEqual(paths, ['/releases/download/v1/asset', '/storage/asset?sig=1', '/storage/final']);
  assert.equal(sha256, createHash('sha256').update(BODY).digest('hex'));
  assert.deepEqual(await readFile(dest), BODY);
});

test('a body cut short of its Content-Length is retried', async () => {
  plan = [
    (res) => {
      res.writeHead(200, { 'content-length': BODY.length }).write(BODY.subarray(0, 100));
      res.socket?.destroy();
    },
  ];
  requests = 0;
  const dest = await fresh();
  const { sha256 } = await download(`${base}/cut`, dest, quick);
  assert.equal(requests, 2);
  assert.equal(sha256, createHash('sha256').update(BODY).digest('hex'));
});

test('an asset of many MB arrives whole through the collections the download asks for', async () => {
  // Over 4 MB, so the young-generation collections between chunks run (their memory effect is the bench's).
  const big = Buffer.alloc(12 * 1024 * 1024);
  for (let i = 0; i < big.length; i += 4096) big.writeUInt32LE(i, i);
  plan = [(res) => res.writeHead(200, { 'content-length': big.length }).end(big)];
  const dest = await fresh();
  const { sha256 } = await download(`${base}/big`, dest, quick);
  assert.equal(sha256, createHash('sha256').update(big).digest('hex'));
  assert.ok((await readFile(dest)).equals(big));
});

test('a 404 is an answer, not retried; nothing is left behind', async () => {
  plan = [(res) => res.writeHead(404).end('not found')];
  requests = 0;
  const dest = await fresh();
  await assert.rejects(download(`${base}/c`, dest, quick), /cannot download http:\/\/\S+\/c \(HTTP 404\)/);
  assert.equal(requests, 1);
  assert.deepEqual(await readdir(join(dest, '..')), []);
});

test('a server that never answers fails after the attempts, naming the URL', async () => {
  plan = [() => {}, () => {}, () => {}, () => {}];
  requests = 0;
  await assert.rejects(download(`${base}/d`, await fresh(), quick), /cannot download http:\/\/\S+\/d/);
  assert.equal(requests, 4);
  plan = [];
});

test('each attempt streams into a sink of its own; a cut one is discarded before the next begins', async () => {
  plan = [
    (res) => {
      res.writeHead(200, { 'content-length': BODY.length }).write(BODY.subarray(0, 5000));
      setTimeout(() => res.socket?.destroy(), 50);
    },
  ];
  requests = 0;
  const events: string[] = [];
  let opened = 0;
  const sink = async (): Promise<Sink<Buffer>> => {
    const n = ++opened;
    const chunks: Buffer[] = [];
    events.push(`open ${n}`);
    return {
      async write(chunk) {
        chunks.push(chunk);
      },
      async end() {
        events.push(`end ${n}`);
        return Buffer.concat(chunks);
      },
      async discard() {
        events.push(`discard ${n} after ${Buffer.concat(chunks).length} bytes`);
      },
    };
  };
  const { sha256, result } = await downloadTo(`${base}/sink`, sink, quick);
  assert.equal(requests, 2);
  assert.deepEqual(events, ['open 1', 'discard 1 after 5000 bytes', 'open 2', 'end 2']);
  assert.deepEqual(result, BODY);
  assert.equal(sha256, createHash('sha256').update(BODY).digest('hex'));
});

test('a sink that fails is discarded and the download fails with it, without a retry', async () => {
  requests = 0;
  let discarded = false;
  const sink = async (): Promise<Sink<void>> => ({
    async write() {
      throw new Error('the disk is full');
    },
    async end() {},
    async discard() {
      discarded = true;
    },
  });
  await assert.rejects(downloadTo(`${base}/full`, sink, quick), (error: Error) => {
    assert.match(error.message, /cannot download http:\/\/\S+\/full/);
    assert.match(String((error.cause as Error).message), /the disk is full/);
    return true;
  });
  assert.equal(requests, 1);
  assert.equal(discarded, true);
});
