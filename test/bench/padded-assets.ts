// Re-publishes the stand-in release assets at the size of the real ones, so downloads, checksums and
// extraction cost what they would; the programs inside still behave exactly as the stand-ins do.
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip, gunzipSync } from 'node:zlib';
import { Header } from 'tar';
import { MIRROR_PATHS, type World } from '../world/index.ts';

const BLOCK = 512;
/** Incompressible padding, written in this many bytes at a time so memory stays flat. */
const CHUNK = 1 << 20;

export interface AssetBytes {
  flux: number;
  cosign: number;
  teleport: number;
}

const arch = process.arch === 'arm64' ? 'arm64' : 'amd64';

/** `n` bytes that no compressor shrinks, streamed from one random megabyte. */
async function* padding(n: number): AsyncGenerator<Buffer> {
  const block = randomBytes(CHUNK);
  for (let left = n; left > 0; left -= CHUNK) yield left >= CHUNK ? block : block.subarray(0, left);
}

/** Writes `parts` to `path` through `gzip` (or as they are) and returns the sha256 of what was written. */
async function write(path: string, parts: AsyncIterable<Buffer>, gzip: boolean): Promise<string> {
  const hash = createHash('sha256');
  const tap = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      done(null, chunk);
    },
  });
  const source = Readable.from(parts);
  // Level 0 stores the random padding as it is: compressing it would only cost time and gain nothing.
  await (gzip
    ? pipeline(source, createGzip({ level: 0 }), tap, createWriteStream(path))
    : pipeline(source, tap, createWriteStream(path)));
  return hash.digest('hex');
}

/** The tar stream of a published archive without its end-of-archive blocks, so members can follow. */
function withoutEnd(tar: Buffer): Buffer {
  let at = 0;
  while (at + BLOCK <= tar.length) {
    const header = new Header(tar, at);
    if (header.nullBlock) break;
    at += BLOCK + Math.ceil((header.size ?? 0) / BLOCK) * BLOCK;
  }
  return tar.subarray(0, at);
}

/** The archive at `path` with one more member, `name`, of incompressible bytes bringing it to about `bytes`. */
async function padArchive(path: string, name: string, bytes: number): Promise<string> {
  const members = withoutEnd(gunzipSync(await readFile(path)));
  const size = Math.max(0, bytes - members.length - 3 * BLOCK);
  const header = Buffer.alloc(BLOCK);
  new Header({ path: name, size, mode: 0o644, type: 'File', mtime: new Date(0), uid: 0, gid: 0 }).encode(
    header,
    0,
  );
  async function* parts(): AsyncGenerator<Buffer> {
    yield members;
    yield header;
    yield* padding(size);
    yield Buffer.alloc((BLOCK - (size % BLOCK)) % BLOCK);
    yield Buffer.alloc(2 * BLOCK);
  }
  return write(path, parts(), true);
}

/**
 * The raw cosign binary as a shell script that runs the stand-in's JavaScript, which follows its fixed-size
 * header, and then padding up to `bytes`. sh never reads past `exec`, so the padding costs only the download.
 */
async function padScript(path: string, controlDir: string, bytes: number): Promise<string> {
  const program = await readFile(path);
  const id = createHash('sha256').update(program).digest('hex').slice(0, 12);
  const headerBytes = 4096;
  const unpacked = join(controlDir, `padded-cosign-${id}.cjs`);
  const lines = [
    '#!/bin/sh',
    '# Stand-in cosign padded to the size of the real binary (bake-oci-manifests benchmark).',
    `js='${unpacked}'`,
    `[ -f "$js" ] || { tail -c +${headerBytes + 1} "$0" | head -c ${program.length} > "$js.$$" && mv "$js.$$" "$js"; }`,
    'exec node "$js" "$@"',
  ].join('\n');
  const header = Buffer.alloc(headerBytes, ' ');
  header.write(`${lines}\n#`, 'utf8');
  header[headerBytes - 1] = 0x0a;
  async function* parts(): AsyncGenerator<Buffer> {
    yield header;
    yield program;
    yield* padding(Math.max(0, bytes - headerBytes - program.length));
  }
  return write(path, parts(), false);
}

/** Replaces the sha256 of `file` in a `sha256sum`-style checksum file. */
async function setChecksum(path: string, file: string, sha256: string): Promise<void> {
  const lines = (await readFile(path, 'utf8')).split('\n');
  const updated = lines.map((line) => (line.endsWith(`  ${file}`) ? `${sha256}  ${file}` : line));
  if (updated.join('\n') === lines.join('\n')) throw new Error(`${path} lists no ${file}`);
  await writeFile(path, updated.join('\n'));
}

/** Pads this machine's architecture's flux, cosign and Teleport assets on the world's mirror. */
export async function padStandinAssets(world: World, bytes: AssetBytes): Promise<void> {
  const root = world.mirrorRoot;
  const v = world.standinVersions;
  const at = (relative: string) => join(root, relative);
  const base = (relative: string) => relative.slice(relative.lastIndexOf('/') + 1);

  const flux = MIRROR_PATHS.flux(v.flux, arch);
  const cosign = MIRROR_PATHS.cosign(v.cosign, arch);
  const teleport = MIRROR_PATHS.teleport(v.teleport, arch);
  const [fluxSum, cosignSum, teleportSum] = await Promise.all([
    padArchive(at(flux), '.bench-padding', bytes.flux),
    padScript(at(cosign), world.controlDir, bytes.cosign),
    padArchive(at(teleport), 'teleport/.bench-padding', bytes.teleport),
  ]);
  await Promise.all([
    setChecksum(at(MIRROR_PATHS.fluxChecksums(v.flux)), base(flux), fluxSum),
    setChecksum(at(MIRROR_PATHS.cosignChecksums(v.cosign)), base(cosign), cosignSum),
    writeFile(at(MIRROR_PATHS.teleportChecksum(v.teleport, arch)), `${teleportSum}  ${base(teleport)}\n`),
  ]);
}
