// The tool-download mirror: a static HTTPS server laid out like upstream under each host name (tool-mirror input),
// also reachable as the upstream hosts themselves (github.com, cdn.teleport.dev) through the world's proxy.
import { createReadStream } from 'node:fs';
import { mkdir, stat, writeFile } from 'node:fs/promises';
import { dirname, resolve, sep } from 'node:path';
import { Transform } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Counters } from './counters.ts';
import type { Faults, ServiceFaultStyle } from './faults.ts';
import { type Listener, listenHttps } from './https-server.ts';
import type { WorldTls } from './tls.ts';

export interface Mirror {
  /** `https://127.0.0.1:<port>`: the `tool-mirror` input. */
  readonly url: string;
  /** Directory served; `<root>/github.com/fluxcd/...` is `<url>/github.com/fluxcd/...`. */
  readonly root: string;
  /** Writes a file under the root, e.g. `publish('cdn.teleport.dev/teleport-v1-linux-amd64-bin.tar.gz', bytes)`. */
  publish(relativePath: string, bytes: Buffer | string): Promise<void>;
  readonly listener: Listener;
}

function plain(res: Parameters<ServiceFaultStyle['write']>[0], status: number, text: string): void {
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': String(Buffer.byteLength(text)),
  });
  res.end(res.req?.method === 'HEAD' ? undefined : text);
}

const style: ServiceFaultStyle = {
  write: (res, e) => plain(res, e.status, `${e.message}\n`),
  serverCode: 'ServiceUnavailable',
  throttle: { status: 429, code: 'TooManyRequests', message: 'Too Many Requests' },
  statusFor: () => 500,
};

/**
 * The file a request names: `<root>/<path>` when it came to the mirror's own address (the `tool-mirror` layout),
 * `<root>/<host>/<path>` when it came for an upstream host (`https://github.com/<path>` routed here by the proxy).
 */
export function mirrorPath(hostHeader: string | undefined, pathname: string): string {
  const host = (hostHeader ?? '')
    .trim()
    .toLowerCase()
    .replace(/:\d+$/, '')
    .replace(/^\[(.*)\]$/, '$1');
  const ownAddress =
    host === '' || host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
  return ownAddress ? pathname : `/${host}${pathname}`;
}

export interface MirrorOptions {
  /** Each download streams at most this fast (a CDN's per-connection rate); default unlimited. */
  bytesPerSecond?: number;
}

/** Passes bytes on no faster than `bytesPerSecond` since the first one. */
export function throttle(bytesPerSecond: number): Transform {
  let started: number | undefined;
  let sent = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      started ??= performance.now();
      sent += chunk.length;
      const due = started + (sent / bytesPerSecond) * 1000 - performance.now();
      // Sleeping only when ahead by a few ms keeps timer granularity from slowing the stream further.
      if (due < 4) return done(null, chunk);
      sleep(due).then(() => done(null, chunk), done);
    },
  });
}

export async function startMirror(
  root: string,
  tls: WorldTls,
  counters: Counters,
  faults: Faults,
  options: MirrorOptions = {},
): Promise<Mirror> {
  await mkdir(root, { recursive: true });
  const base = resolve(root);
  const inside = (relativePath: string) => {
    const full = resolve(base, `.${sep}${relativePath}`);
    if (full !== base && !full.startsWith(base + sep))
      throw new Error(`mirror path escapes the root: ${relativePath}`);
    return full;
  };
  const listener = await listenHttps(tls, 'mirror', async (req, res) => {
    counters.inc('mirror', 'download');
    if (await faults.apply('mirror', 'download', req, res, style)) return;
    if (req.method !== 'GET' && req.method !== 'HEAD') return plain(res, 405, 'Method Not Allowed\n');
    let file: string;
    try {
      const pathname = decodeURIComponent(new URL(req.url ?? '/', 'https://localhost').pathname);
      file = inside(mirrorPath(req.headers.host, pathname));
    } catch {
      return plain(res, 404, 'Not Found\n');
    }
    const info = await stat(file).catch(() => undefined);
    if (!info?.isFile()) return plain(res, 404, 'Not Found\n');
    res.writeHead(200, {
      'content-type': 'application/octet-stream',
      'content-length': String(info.size),
      'last-modified': info.mtime.toUTCString(),
    });
    if (req.method === 'HEAD') return void res.end();
    const stream = createReadStream(file);
    const rate = options.bytesPerSecond;
    (rate ? stream.pipe(throttle(rate)) : stream).pipe(res);
    res.on('close', () => stream.destroy());
  });
  return {
    url: listener.url,
    root: base,
    async publish(relativePath, bytes) {
      const file = inside(relativePath);
      await mkdir(dirname(file), { recursive: true });
      await writeFile(file, bytes, { mode: 0o644 });
    },
    listener,
  };
}

/** Upstream download paths (relative to the mirror root) of the three tools, as the action composes them. */
export const MIRROR_PATHS = {
  flux: (v: string, arch = 'amd64') =>
    `github.com/fluxcd/flux2/releases/download/v${v}/flux_${v}_linux_${arch}.tar.gz`,
  fluxChecksums: (v: string) => `github.com/fluxcd/flux2/releases/download/v${v}/flux_${v}_checksums.txt`,
  cosign: (v: string, arch = 'amd64') =>
    `github.com/sigstore/cosign/releases/download/v${v}/cosign-linux-${arch}`,
  cosignChecksums: (v: string) => `github.com/sigstore/cosign/releases/download/v${v}/cosign_checksums.txt`,
  teleport: (v: string, arch = 'amd64') => `cdn.teleport.dev/teleport-v${v}-linux-${arch}-bin.tar.gz`,
  teleportChecksum: (v: string, arch = 'amd64') =>
    `cdn.teleport.dev/teleport-v${v}-linux-${arch}-bin.tar.gz.sha256`,
} as const;
