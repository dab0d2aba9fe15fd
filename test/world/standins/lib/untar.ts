// Extracts a (gzipped) tarball the way fluxcd/pkg/tar Untar does for `flux pull`: files and dirs only, symlinks skipped.
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve, sep } from 'node:path';
import { gunzipSync } from 'node:zlib';

function cstring(buf: Buffer, start: number, length: number): string {
  const slice = buf.subarray(start, start + length);
  const nul = slice.indexOf(0);
  return (nul < 0 ? slice : slice.subarray(0, nul)).toString('utf8');
}

function octalField(buf: Buffer, start: number, length: number): number {
  const s = cstring(buf, start, length).trim();
  return s ? Number.parseInt(s, 8) : 0;
}

function paxPath(data: Buffer): string | undefined {
  let rest = data.toString('utf8');
  while (rest) {
    const space = rest.indexOf(' ');
    const size = Number(rest.slice(0, space));
    if (!size) break;
    const record = rest.slice(space + 1, size - 1);
    rest = rest.slice(size);
    const eq = record.indexOf('=');
    if (record.slice(0, eq) === 'path') return record.slice(eq + 1);
  }
  return undefined;
}

export function untar(archive: Buffer, outDir: string): void {
  const tar = archive[0] === 0x1f && archive[1] === 0x8b ? gunzipSync(archive) : archive;
  const root = resolve(outDir);
  let offset = 0;
  let longName: string | undefined;
  while (offset + 512 <= tar.length) {
    const h = tar.subarray(offset, offset + 512);
    if (h.every((b) => b === 0)) break;
    const size = octalField(h, 124, 12);
    const type = String.fromCharCode(h[156] || 0x30);
    const prefix = cstring(h, 345, 155);
    let name = longName ?? (prefix ? `${prefix}/${cstring(h, 0, 100)}` : cstring(h, 0, 100));
    const mode = octalField(h, 100, 8) & 0o777;
    const data = tar.subarray(offset + 512, offset + 512 + size);
    offset += 512 + Math.ceil(size / 512) * 512;
    if (type === 'x') {
      longName = paxPath(data);
      continue;
    }
    if (type === 'L') {
      longName = cstring(data, 0, data.length);
      continue;
    }
    if (type === 'g') continue;
    longName = undefined;
    name = name.replace(/^\.\//, '');
    const target = resolve(root, name);
    if (target !== root && !target.startsWith(root + sep)) {
      throw new Error(`tar contained invalid name error ${JSON.stringify(name)}`);
    }
    if (type === '5') {
      mkdirSync(target, { recursive: true });
    } else if (type === '0' || type === '\0' || type === '7') {
      mkdirSync(dirname(target), { recursive: true });
      writeFileSync(target, data);
      chmodSync(target, mode || 0o644);
    }
    // Symlinks, hard links and devices are skipped (WithSkipSymlinks).
  }
}
