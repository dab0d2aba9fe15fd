import { createWriteStream, type WriteStream } from 'node:fs';
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { pipeline } from 'node:stream/promises';
import * as tc from '@actions/tool-cache';
import { Parser } from 'tar/parse';
import type { ReadEntry } from 'tar/read-entry';
import { type Context, code, privateDir } from '../context.ts';
import { ActionError } from '../errors.ts';
import type { Log } from '../log.ts';
import { type Asset, assetFor, checksumFor, type ToolName, toolArch, viaMirror } from './assets.ts';
import { type DownloadOptions, download, downloadTo, fileSink, type Sink } from './download.ts';

/** What an install stage produces: the binary to run and the version it is. */
export interface InstalledTool {
  path: string;
  version: string;
}

export interface InstallOptions extends DownloadOptions {
  mirror: string | undefined;
  /** A private scratch directory for downloads and extraction (under the run's root). */
  workDir: string;
}

/** The sha256 the asset must have: the pin, or its line in the release's checksum file. */
async function expectedSha256(asset: Asset, options: InstallOptions, dir: string): Promise<string> {
  if ('sha256' in asset.checksum) return asset.checksum.sha256;
  const url = viaMirror(asset.checksum.url, options.mirror);
  const text = await readFile((await download(url, join(dir, 'checksums'), options)).path, 'utf8');
  const expected = checksumFor(text, asset.file);
  if (!expected) {
    throw new ActionError(`${url} has no sha256 for ${asset.file}`, {
      hint: 'nothing of the download was kept or run; check the version, or the mirror copy of the checksum file',
    });
  }
  return expected;
}

/** What came out of a tarball as it streamed by. */
interface Extracted {
  /** Copies of the member seen; only the first is written. */
  copies: number;
  /** Why the archive could not be read, when it could not: reported only once its checksum matched. */
  problem: unknown;
}

/**
 * A sink that inflates a gzipped tarball as it arrives and writes only the regular file `member` to `to` (created
 * exclusively, owner-only, not executable); every other member is skipped unwritten (a Teleport archive holds
 * several large programs). A damaged archive stops the extraction but not the download, whose checksum decides
 * which error is told.
 */
async function memberSink(member: string, to: string): Promise<Sink<Extracted>> {
  let copies = 0;
  let problem: unknown;
  let out: WriteStream | undefined;
  let written: Promise<unknown> = Promise.resolve();
  let stop: () => void = () => {};
  // Settles when the parser has ended or failed: nothing more will be written after it.
  const stopped = new Promise<void>((resolve) => {
    stop = resolve;
  });
  const fail = (error: unknown) => {
    problem ??= error;
    stop();
  };
  const parser = new Parser({
    strict: true,
    onReadEntry(entry: ReadEntry) {
      // A write the file refused must not surface later as an unhandled 'error' of the entry.
      entry.on('error', fail);
      const path = posix.normalize(entry.path).replace(/^\.\/+/, '');
      const regular = entry.type === 'File' || entry.type === 'OldFile' || entry.type === 'ContiguousFile';
      if (path !== member || !regular || ++copies > 1) return void entry.resume();
      out = createWriteStream(to, { flags: 'wx', mode: 0o600 });
      written = pipeline(entry, out).catch(fail);
    },
  });
  parser.on('error', fail);
  parser.on('end', stop);
  return {
    async write(chunk) {
      if (problem !== undefined) return;
      // The parser inflates and parses as it is written; false means the member's file is behind.
      if (!parser.write(chunk)) {
        await new Promise<void>((resolve) => {
          parser.once('drain', resolve);
          void stopped.then(resolve);
        });
      }
    },
    async end() {
      if (problem === undefined) parser.end();
      await stopped;
      await written;
      return { copies, problem };
    },
    async discard() {
      parser.abort(new Error('download attempt abandoned'));
      out?.destroy();
      await written;
      await rm(to, { force: true });
    },
  };
}

/** Refuses what came out of a matching tarball unless it was readable and held the member exactly once. */
function checkExtracted(asset: Asset, extracted: Extracted): void {
  if (extracted.problem !== undefined) {
    const why = extracted.problem instanceof Error ? extracted.problem.message : String(extracted.problem);
    throw new ActionError(`${asset.file} matches its sha256 but cannot be read as a tar.gz: ${why}`, {
      hint: 'check the version',
      cause: extracted.problem,
    });
  }
  // tar would let a later copy win; an archive that holds two is not one to guess about.
  if (extracted.copies > 1) {
    throw new ActionError(`the archive holds ${asset.member} ${extracted.copies} times`, {
      hint: 'check the version',
    });
  }
  if (extracted.copies === 0) {
    throw new ActionError(`${asset.file} holds no ${asset.member}`, { hint: 'check the version' });
  }
}

/**
 * Returns the tool from the runner's tool cache, or downloads it and caches it per version and architecture. A
 * tarball is inflated while it downloads and only its binary is written, into the private `workDir`, not
 * executable; it is made executable and cached only once the whole download matched its sha256. A mismatch, a
 * missing checksum or any other failure removes everything written.
 */
export async function installTool(
  asset: Asset,
  options: InstallOptions,
): Promise<InstalledTool & { cached: boolean }> {
  const { tool, version, arch } = asset;
  const hit = tc.find(tool, version, arch);
  if (hit) return { path: join(hit, tool), version, cached: true };

  const dir = await mkdtemp(join(options.workDir, `${tool}-`));
  try {
    const url = viaMirror(asset.url, options.mirror);
    options.log.info(`downloading ${url}`);
    const { member } = asset;
    const binary = join(dir, member === undefined ? asset.file : tool);
    // A raw binary is kept as it arrives; from a tarball only its member is written.
    const openSink: () => Promise<Sink<string | Extracted>> =
      member === undefined ? () => fileSink(binary) : () => memberSink(member, binary);
    // Both downloads settle before either failure is thrown, so none is still writing when `dir` goes.
    const [fetched, wanted] = await Promise.allSettled([
      downloadTo(url, openSink, options),
      expectedSha256(asset, options, dir),
    ]);
    if (fetched.status === 'rejected') throw fetched.reason;
    if (wanted.status === 'rejected') throw wanted.reason;
    const { sha256: actual, result } = fetched.value;
    const expected = wanted.value;
    if (actual !== expected) {
      throw new ActionError(`sha256 mismatch for ${url}: expected ${expected}, got ${actual}`, {
        hint: 'the download is not the published release; nothing of it was kept or run',
      });
    }
    const source =
      'sha256' in asset.checksum ? 'the pin in the action' : viaMirror(asset.checksum.url, options.mirror);
    options.log.info(`sha256 ${actual} matches ${source}`);

    if (typeof result !== 'string') checkExtracted(asset, result);
    // Executable before it is copied: the cache's .complete marker must never sit next to a file that cannot run.
    await chmod(binary, 0o755);
    const path = join(await tc.cacheFile(binary, tool, tool, version, arch), tool);
    return { path, version, cached: false };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** What an install stage does: the run's architecture and mirror, a private scratch dir, a log line and a fact. */
export async function installForRun(
  ctx: Context,
  log: Log,
  tool: ToolName,
  version: string,
): Promise<InstalledTool> {
  const asset = assetFor(tool, version, toolArch());
  const workDir = await privateDir(ctx, 'downloads');
  const installed = await installTool(asset, {
    mirror: ctx.inputs.toolMirror,
    workDir,
    log,
    signal: ctx.signal,
  });
  log.info(
    `${tool} ${version} (${asset.arch}) ${installed.cached ? 'from the tool cache' : 'installed'}: ${installed.path}`,
  );
  ctx.facts.push({ label: tool, value: code(version) });
  return { path: installed.path, version };
}
