import { createReadStream, createWriteStream } from 'node:fs';
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
import { type DownloadOptions, download } from './download.ts';

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
      hint: 'nothing was extracted or run; check the version, or the mirror copy of the checksum file',
    });
  }
  return expected;
}

/**
 * Writes the regular file `member` of a verified gzipped tarball to `to`; false when there is none. Read in
 * process: only the one file is written (a Teleport archive holds several large binaries), and no tar
 * process prints into another stage's log.
 */
async function extractMember(archive: string, member: string, to: string): Promise<boolean> {
  let writing: Promise<void> | undefined;
  let copies = 0;
  const parser = new Parser({
    strict: true,
    onReadEntry(entry: ReadEntry) {
      const path = posix.normalize(entry.path).replace(/^\.\/+/, '');
      const regular = entry.type === 'File' || entry.type === 'OldFile' || entry.type === 'ContiguousFile';
      if (path !== member || !regular || ++copies > 1) return void entry.resume();
      writing = pipeline(entry, createWriteStream(to, { flags: 'wx', mode: 0o600 }));
    },
  });
  await new Promise<void>((resolve, reject) => {
    parser.on('error', reject);
    parser.on('end', () => resolve());
    // 1 MiB reads: tar's parser and inflater take a 150 MB archive in half the time they need at 64 kB.
    createReadStream(archive, { highWaterMark: 1 << 20 })
      .on('error', reject)
      .pipe(parser as unknown as NodeJS.WritableStream);
  });
  await writing;
  // tar would let a later copy win; an archive that holds two is not one to guess about.
  if (copies > 1)
    throw new ActionError(`the archive holds ${member} ${copies} times`, { hint: 'check the version' });
  return writing !== undefined;
}

/**
 * Returns the tool from the runner's tool cache, or downloads it, checks its sha256 before anything is
 * extracted or run, and caches it per version and architecture.
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
    // Both downloads settle before either failure is thrown, so none is still writing when `dir` goes.
    const [fetched, wanted] = await Promise.allSettled([
      download(url, join(dir, asset.file), options),
      expectedSha256(asset, options, dir),
    ]);
    if (fetched.status === 'rejected') throw fetched.reason;
    if (wanted.status === 'rejected') throw wanted.reason;
    const { path: file, sha256: actual } = fetched.value;
    const expected = wanted.value;
    if (actual !== expected) {
      throw new ActionError(`sha256 mismatch for ${url}: expected ${expected}, got ${actual}`, {
        hint: 'the download is not the published release; nothing was extracted or run',
      });
    }
    const source =
      'sha256' in asset.checksum ? 'the pin in the action' : viaMirror(asset.checksum.url, options.mirror);
    options.log.info(`sha256 ${actual} matches ${source}`);

    let binary = file;
    if (asset.member !== undefined) {
      binary = join(dir, tool);
      if (!(await extractMember(file, asset.member, binary))) {
        throw new ActionError(`${asset.file} holds no ${asset.member}`, { hint: 'check the version' });
      }
    }
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
