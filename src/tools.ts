import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { chmod, mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import * as tc from '@actions/tool-cache';
import { Parser } from 'tar/parse';
import type { ReadEntry } from 'tar/read-entry';
import { type Context, privateDir } from './context.ts';
import { ActionError } from './errors.ts';
import { HTTP_BACKOFF } from './http.ts';
import type { Log } from './log.ts';
import { isNetworkError, type RetryOptions, retry } from './retry.ts';

export type ToolName = 'tbot' | 'flux' | 'cosign';
export type Arch = 'amd64' | 'arm64';

/** What an install stage produces: the binary to run and the version it is. */
export interface InstalledTool {
  path: string;
  version: string;
}

/**
 * sha256 of upstream assets, keyed `<tool>@<version>/<arch>`. A pinned asset is checked against this
 * table only; any other is checked against the release's own checksum file.
 *
 * cosign v2.6.1: sigstore/cosign-installer never bootstrapped v2.6.1 (it went from v2.6.0 to v3), so these
 * are the values that several unrelated public installers pin for cosign-linux-<arch> v2.6.1, all agreeing
 * (e.g. NEJCPM/pritunl-client-github-action, HCDestroyer/horus-flow).
 * flux 2.9.4: not pinned. Public pins disagree (c2c397a5… and 4092b367… are both given for
 * flux_2.9.4_linux_amd64.tar.gz), so no value could be established; flux_2.9.4_checksums.txt decides.
 * tbot: the version follows the Teleport cluster, so `<asset>.sha256` always decides.
 */
export const PINNED_SHA256: Readonly<Record<string, string>> = {
  'cosign@2.6.1/amd64': '064954c5d8c7e3b28188eee5b1727b31c411550bc5fefd41aa672d3c761d103a',
  'cosign@2.6.1/arm64': '56a16480bdd56ec789abaa65924402f6b92c0041f06885995853c05567b76f34',
};

/** One downloadable release asset and where its checksum comes from, with upstream (unmirrored) URLs. */
export interface Asset {
  tool: ToolName;
  version: string;
  arch: Arch;
  url: string;
  /** The asset's file name, as the checksum file lists it. */
  file: string;
  /** Pinned sha256, or the URL of the upstream checksum file. */
  checksum: { sha256: string } | { url: string };
  /** Path of the binary inside the tar.gz; undefined when the asset is the binary itself. */
  member: string | undefined;
}

/** Node's process.arch as the Linux release assets name it; other systems and CPUs have no release here. */
export function toolArch(arch: string = process.arch, platform: string = process.platform): Arch {
  if (platform !== 'linux') {
    throw new ActionError(`the tools are installed from their Linux releases; this runner is ${platform}`, {
      hint: 'run the job on a Linux runner, e.g. runs-on: ubuntu-latest',
    });
  }
  if (arch === 'x64') return 'amd64';
  if (arch === 'arm64') return 'arm64';
  throw new ActionError(`no release of the tools for CPU architecture ${arch}`, {
    hint: 'run the job on an x64 or arm64 Linux runner',
  });
}

/** The contract's download table. */
export function assetFor(tool: ToolName, version: string, arch: Arch): Asset {
  const pinned = PINNED_SHA256[`${tool}@${version}/${arch}`];
  let base: string;
  let file: string;
  let sums: string;
  let member: string | undefined;
  switch (tool) {
    case 'flux':
      base = `https://github.com/fluxcd/flux2/releases/download/v${version}`;
      file = `flux_${version}_linux_${arch}.tar.gz`;
      sums = `${base}/flux_${version}_checksums.txt`;
      member = 'flux';
      break;
    case 'cosign':
      base = `https://github.com/sigstore/cosign/releases/download/v${version}`;
      file = `cosign-linux-${arch}`;
      sums = `${base}/cosign_checksums.txt`;
      member = undefined;
      break;
    case 'tbot':
      base = 'https://cdn.teleport.dev';
      file = `teleport-v${version}-linux-${arch}-bin.tar.gz`;
      sums = `${base}/${file}.sha256`;
      member = 'teleport/tbot';
      break;
  }
  return {
    tool,
    version,
    arch,
    url: `${base}/${file}`,
    file,
    checksum: pinned ? { sha256: pinned } : { url: sums },
    member,
  };
}

/** `https://HOST/PATH` → `<mirror>/HOST/PATH`; the upstream URL when there is no mirror. */
export function viaMirror(url: string, mirror: string | undefined): string {
  if (!mirror) return url;
  return `${mirror.replace(/\/+$/, '')}/${url.replace(/^https:\/\//, '')}`;
}

/** The sha256 a checksum file gives for `file`: `sha256sum` lines (`HEX  name`, `HEX *name`) or a lone hash. */
export function checksumFor(text: string, file: string): string | undefined {
  const lines = text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '');
  for (const line of lines) {
    const match = /^([0-9a-fA-F]{64})\s+\*?(\S+)$/.exec(line);
    if (match && (match[2] === file || match[2]?.endsWith(`/${file}`))) return match[1]?.toLowerCase();
  }
  const only = lines.length === 1 ? /^([0-9a-fA-F]{64})$/.exec(lines[0] ?? '') : null;
  return only?.[1]?.toLowerCase();
}

export interface InstallOptions {
  mirror: string | undefined;
  /** A private scratch directory for downloads and extraction (under the run's root). */
  workDir: string;
  log: { info(message: string): void };
  signal?: AbortSignal;
  /** Overrides of the download retry (tests pass a no-op sleep). */
  retry?: Partial<Omit<RetryOptions, 'classify' | 'signal'>>;
  /** How long a download may go without a byte: DOWNLOAD_STALL_MS unless a test needs it short. */
  stallMs?: number;
}

/** A download stalled this long (no response, or no bytes) is abandoned and retried; a big asset still streams. */
export const DOWNLOAD_STALL_MS = 30_000;

/** An HTTP answer other than 200 to a download. */
export class DownloadStatusError extends Error {
  constructor(
    readonly url: string,
    readonly status: number,
  ) {
    super(`HTTP ${status}`);
    this.name = 'DownloadStatusError';
  }
}

/** Server errors, throttling, stalls and dropped connections are retried; a 404 or 403 is an answer. */
export function classifyDownload(error: unknown): 'retry' | 'fail' {
  if (error instanceof DownloadStatusError) {
    return error.status >= 500 || error.status === 429 || error.status === 408 ? 'retry' : 'fail';
  }
  return isNetworkError(error) ? 'retry' : 'fail';
}

/** Bytes streamed through the process between two young-generation collections (collectSpentBuffers). */
const COLLECT_EVERY_BYTES = 4 * 1024 * 1024;
let sinceCollect = 0;
let minorGc: ((options: { type: 'minor' }) => void) | undefined;

/**
 * Every socket read and every inflated block is a new buffer that lives until V8 next collects its young
 * generation; Node 24 lets ~60 MB of them pile up while three downloads stream, so downloads and
 * extraction collect every few MB they pass.
 */
function collectSpentBuffers(bytes: number): void {
  sinceCollect += bytes;
  if (sinceCollect < COLLECT_EVERY_BYTES) return;
  sinceCollect = 0;
  minorGc ??= exposeGc();
  minorGc({ type: 'minor' });
}

/** gc() as jest's leak detector gets it: the flag adds it to contexts made afterwards; a no-op if refused. */
function exposeGc(): (options: { type: 'minor' }) => void {
  setFlagsFromString('--expose-gc');
  const gc: unknown = runInNewContext('typeof gc === "function" ? gc : undefined');
  return typeof gc === 'function' ? (gc as (options: { type: 'minor' }) => void) : () => {};
}

/**
 * One GET streamed to `dest`, abandoned when no byte arrives for DOWNLOAD_STALL_MS. Returns the sha256 of
 * the bytes written, hashed as they pass rather than read back after (a Teleport bundle is ~150 MB).
 */
async function downloadOnce(
  url: string,
  dest: string,
  signal: AbortSignal | undefined,
  stallMs: number,
): Promise<string> {
  const stall = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(
      () => stall.abort(new DOMException(`no data for ${stallMs} ms`, 'TimeoutError')),
      stallMs,
    );
  };
  const both = signal ? AbortSignal.any([signal, stall.signal]) : stall.signal;
  arm();
  try {
    const response = await fetch(url, { signal: both });
    if (response.status !== 200 || !response.body) {
      await response.body?.cancel();
      throw new DownloadStatusError(url, response.status);
    }
    const hash = createHash('sha256');
    // One chunk at a time, awaited: nothing piles up between the socket and the file.
    const file = await open(dest, 'wx', 0o600);
    try {
      for await (const chunk of response.body as import('node:stream/web').ReadableStream<Uint8Array>) {
        arm();
        hash.update(chunk);
        await file.write(chunk);
        collectSpentBuffers(chunk.byteLength);
      }
    } finally {
      await file.close();
    }
    return hash.digest('hex');
  } catch (error) {
    await rm(dest, { force: true });
    // The stall is ours: report it as the timeout it is, so the classifier retries it.
    if (stall.signal.aborted && !signal?.aborted) throw stall.signal.reason;
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Downloads `url` to `dest`, retrying what a second attempt may fix, and returns the file's sha256. Written on
 * fetch rather than tool-cache's downloadTool, which waits 3 minutes on a silent server and 10-20 s between attempts.
 */
export async function download(
  url: string,
  dest: string,
  options: Pick<InstallOptions, 'log' | 'signal' | 'retry' | 'stallMs'> = { log: { info: () => {} } },
): Promise<{ path: string; sha256: string }> {
  const stallMs = options.stallMs ?? DOWNLOAD_STALL_MS;
  try {
    const sha256 = await retry(() => downloadOnce(url, dest, options.signal, stallMs), {
      ...HTTP_BACKOFF,
      ...options.retry,
      classify: classifyDownload,
      ...(options.signal ? { signal: options.signal } : {}),
      onRetry: (error, n, ms) =>
        options.log.info(
          `download attempt ${n} of ${url} failed (${error instanceof Error ? error.message : String(error)}); retrying in ${ms} ms`,
        ),
    });
    return { path: dest, sha256 };
  } catch (error) {
    if (options.signal?.aborted) throw error;
    const status = error instanceof DownloadStatusError ? ` (HTTP ${error.status})` : '';
    throw new ActionError(`cannot download ${url}${status}`, {
      hint: 'check the version and, when set, that `tool-mirror` mirrors the release; a re-run is safe',
      cause: error,
    });
  }
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
      .on('data', (chunk) => collectSpentBuffers(chunk.length))
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
  ctx.facts.push({ label: tool, value: `<code>${version}</code>` });
  return { path: installed.path, version };
}
