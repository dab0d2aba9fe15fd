// Tarballs the way fluxcd/pkg/tar writes them (Go archive/tar USTAR headers) and a gitignore matcher for --ignore-paths.
import { lstatSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

export interface TarEntry {
  /** Slash-separated name, no trailing slash for directories (flux writes `sub`, not `sub/`). */
  name: string;
  type: 'file' | 'dir';
  mode: number;
  data?: Buffer;
}

const BLOCK = 512;

function octal(buf: Buffer, offset: number, length: number, value: number): void {
  // Go's formatOctal: zero-padded to length-1 digits, NUL terminated.
  const s = value.toString(8).padStart(length - 1, '0');
  buf.write(`${s}\0`, offset, length, 'ascii');
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

/** Go's splitUSTARPath: prefix <= 155 bytes, name <= 100 bytes, split on a slash. */
function splitUstar(name: string): [string, string] | undefined {
  const length = Buffer.byteLength(name);
  if (length <= 100) return ['', name];
  let i = Math.min(length - 1, 155);
  for (; i > 0; i--) if (name[i] === '/') break;
  if (i <= 0) return undefined;
  const prefix = name.slice(0, i);
  const suffix = name.slice(i + 1);
  if (Buffer.byteLength(prefix) > 155 || Buffer.byteLength(suffix) > 100 || suffix === '') return undefined;
  return [prefix, suffix];
}

function header(name: string, prefix: string, type: string, mode: number, size: number): Buffer {
  const h = Buffer.alloc(BLOCK, 0);
  h.write(name, 0, 100, 'utf8');
  octal(h, 100, 8, mode);
  octal(h, 108, 8, 0); // uid
  octal(h, 116, 8, 0); // gid
  octal(h, 124, 12, size);
  octal(h, 136, 12, 0); // mtime: zeroed by flux
  h.fill(0x20, 148, 156); // checksum placeholder: spaces
  h.write(type, 156, 1, 'ascii');
  h.write('ustar\u000000', 257, 8, 'ascii');
  // uname/gname stay empty; devmajor/devminor as Go formats them.
  octal(h, 329, 8, 0);
  octal(h, 337, 8, 0);
  h.write(prefix, 345, 155, 'utf8');
  let sum = 0;
  for (const b of h) sum += b;
  octal(h, 148, 7, sum);
  return h;
}

function padded(data: Buffer): Buffer[] {
  const rest = data.length % BLOCK;
  return rest === 0 ? [data] : [data, Buffer.alloc(BLOCK - rest, 0)];
}

function paxRecord(key: string, value: string): string {
  // The length prefix counts itself, so iterate to a fixed point.
  const body = ` ${key}=${value}\n`;
  let size = Buffer.byteLength(body) + 1;
  while (String(size).length + Buffer.byteLength(body) !== size)
    size = String(size).length + Buffer.byteLength(body);
  return `${size}${body}`;
}

export function tarEntries(entries: readonly TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const data = e.type === 'file' ? (e.data ?? Buffer.alloc(0)) : Buffer.alloc(0);
    const type = e.type === 'file' ? '0' : '5';
    const split = isAscii(e.name) ? splitUstar(e.name) : undefined;
    if (split) {
      parts.push(header(split[1], split[0], type, e.mode, data.length));
    } else {
      // Go falls back to PAX for names USTAR cannot hold (too long or not ASCII).
      const pax = Buffer.from(paxRecord('path', e.name), 'utf8');
      const slash = e.name.lastIndexOf('/');
      const dir = slash < 0 ? '' : e.name.slice(0, slash);
      const base = slash < 0 ? e.name : e.name.slice(slash + 1);
      const paxName = (dir ? `${dir}/PaxHeaders.0/${base}` : `PaxHeaders.0/${base}`).slice(0, 100);
      parts.push(header(isAscii(paxName) ? paxName : 'PaxHeaders.0', '', 'x', 0, pax.length), ...padded(pax));
      const short = Buffer.from(e.name, 'utf8').subarray(0, 100).toString('latin1');
      parts.push(header(isAscii(short) ? short : 'file', '', type, e.mode, data.length));
    }
    if (data.length) parts.push(...padded(data));
  }
  parts.push(Buffer.alloc(BLOCK * 2, 0));
  return Buffer.concat(parts);
}

/** Go's gzip.Writer header says OS=unknown (255); node's says Unix. */
export function goGzip(data: Buffer): Buffer {
  const gz = gzipSync(data, { level: 6 });
  gz[9] = 0xff;
  return gz;
}

export function tarGz(entries: readonly TarEntry[]): Buffer {
  return goGzip(tarEntries(entries));
}

// ---- gitignore patterns (the subset go-git's gitignore matcher gives flux's --ignore-paths) ----

interface IgnorePattern {
  negate: boolean;
  dirOnly: boolean;
  anchored: boolean;
  regex: RegExp;
}

function globToRegex(glob: string): string {
  let out = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') out += '[^/]*';
    else if (c === '?') out += '[^/]';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 1);
      if (end < 0) out += '\\[';
      else {
        let cls = glob.slice(i + 1, end);
        if (cls.startsWith('!')) cls = `^${cls.slice(1)}`;
        out += `[${cls.replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else if (c === '\\' && i + 1 < glob.length) {
      out += `\\${glob[++i]}`;
    } else out += c.replace(/[.+^${}()|\]\\]/g, '\\$&');
  }
  return out;
}

export function parseIgnorePatterns(lines: readonly string[]): IgnorePattern[] {
  const patterns: IgnorePattern[] = [];
  for (const raw of lines) {
    let p = raw.replace(/\r$/, '');
    if (p.trim() === '' || p.startsWith('#')) continue;
    p = p.replace(/(?<!\\)\s+$/, '');
    let negate = false;
    if (p.startsWith('!')) {
      negate = true;
      p = p.slice(1);
    }
    let dirOnly = false;
    if (p.endsWith('/')) {
      dirOnly = true;
      p = p.replace(/\/+$/, '');
    }
    const anchored = p.includes('/');
    p = p.replace(/^\/+/, '');
    if (!p) continue;
    let regex: RegExp;
    if (anchored) {
      const segs = p.split('/');
      let src = '';
      segs.forEach((seg, i) => {
        const last = i === segs.length - 1;
        if (seg === '**') src += last ? '.*' : '(?:[^/]+/)*';
        else src += globToRegex(seg) + (last ? '' : '/');
      });
      regex = new RegExp(`^${src}$`);
    } else {
      regex = new RegExp(`^${globToRegex(p)}$`);
    }
    patterns.push({ negate, dirOnly, anchored, regex });
  }
  return patterns;
}

function patternMatches(p: IgnorePattern, parts: readonly string[], isDir: boolean): boolean {
  if (!p.anchored) {
    for (let i = 0; i < parts.length; i++) {
      if (p.regex.test(parts[i]!)) return !(p.dirOnly && !isDir && i === parts.length - 1);
    }
    return false;
  }
  // An anchored pattern matches the path itself or any ancestor directory of it.
  for (let n = 1; n <= parts.length; n++) {
    const last = n === parts.length;
    if (p.regex.test(parts.slice(0, n).join('/'))) {
      if (last && p.dirOnly && !isDir) continue;
      return true;
    }
  }
  return false;
}

/** Last matching pattern wins, as in go-git's gitignore Matcher. */
export function isIgnored(patterns: readonly IgnorePattern[], relPath: string, isDir: boolean): boolean {
  const parts = relPath.split('/').filter(Boolean);
  if (parts.length === 0) return false;
  for (let i = patterns.length - 1; i >= 0; i--) {
    const p = patterns[i]!;
    if (patternMatches(p, parts, isDir)) return !p.negate;
  }
  return false;
}

// ---- building the artifact tarball from a directory ----

function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

export interface BuildOptions {
  ignorePaths: readonly string[];
  /** --resolve-symlinks: follow links (copying their targets), breaking directory cycles. */
  resolveSymlinks: boolean;
}

/**
 * The entries `flux push artifact` packs from `root` (a directory or a single file): lexical walk, root entry `.`,
 * symlinks and special files skipped unless resolved, modes from the file system.
 */
export function collectEntries(root: string, options: BuildOptions): TarEntry[] {
  const patterns = parseIgnorePatterns(options.ignorePaths);
  const entries: TarEntry[] = [];
  const rootStat = options.resolveSymlinks ? statSync(root) : lstatSync(root);
  if (!rootStat.isDirectory()) {
    // A single file is staged into a fresh temp dir (mode 0700) and packed from there.
    const name = root.split('/').filter(Boolean).pop() ?? 'file';
    entries.push({ name: '.', type: 'dir', mode: 0o700 });
    if (!isIgnored(patterns, name, false)) {
      entries.push({ name, type: 'file', mode: statSync(root).mode & 0o7777, data: readFileSync(root) });
    }
    return entries;
  }
  // --resolve-symlinks copies the tree into a MkdirTemp dir first, so the root entry has that dir's mode.
  entries.push({ name: '.', type: 'dir', mode: options.resolveSymlinks ? 0o700 : rootStat.mode & 0o7777 });
  const visited = new Set<string>();
  const walk = (dir: string, rel: string): void => {
    const real = realpathSync(dir);
    if (options.resolveSymlinks) {
      if (visited.has(real)) return;
      visited.add(real);
    }
    const names = readdirSync(dir).sort(byteOrder);
    for (const name of names) {
      const abs = join(dir, name);
      const relPath = rel ? `${rel}/${name}` : name;
      let st = lstatSync(abs);
      if (st.isSymbolicLink()) {
        if (!options.resolveSymlinks) continue;
        try {
          st = statSync(abs);
        } catch (error) {
          throw new Error(`resolving symlinks failed: resolving symlink ${abs}: ${(error as Error).message}`);
        }
      }
      if (st.isDirectory()) {
        if (!isIgnored(patterns, relPath, true))
          entries.push({ name: relPath, type: 'dir', mode: st.mode & 0o7777 });
        // Go's WalkDir filter does not prune: children of an ignored dir are still tested one by one.
        walk(abs, relPath);
      } else if (st.isFile()) {
        if (!isIgnored(patterns, relPath, false)) {
          entries.push({ name: relPath, type: 'file', mode: st.mode & 0o7777, data: readFileSync(abs) });
        }
      }
      // Sockets, FIFOs and devices are skipped silently, as fluxcd/pkg/tar does.
    }
    if (options.resolveSymlinks) visited.delete(real);
  };
  walk(root, '');
  return entries;
}
