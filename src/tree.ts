import { lstat, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ActionError } from './errors.ts';

/** A tree of regular files: forward-slash path → bytes. Directories are implied by the paths. */
export type FileTree = Map<string, Buffer>;

export interface TreeDiff {
  /** In the expected tree only. */
  missing: string[];
  /** In the actual tree only. */
  extra: string[];
  /** In both, with different bytes. */
  changed: { path: string; line: number }[];
}

/** Every regular file under `dir`, as flux packs it; anything else is refused (the bake already rejects it). */
export async function readTree(dir: string): Promise<FileTree> {
  const tree: FileTree = new Map();
  const walk = async (rel: string): Promise<void> => {
    for (const name of (await readdir(join(dir, rel))).sort()) {
      const path = rel === '' ? name : `${rel}/${name}`;
      const info = await lstat(join(dir, path));
      if (info.isDirectory()) await walk(path);
      else if (info.isFile()) tree.set(path, await readFile(join(dir, path)));
      else throw new ActionError(`${path} in the baked tree is not a regular file or directory`);
    }
  };
  await walk('');
  return tree;
}

/** 1-based line of the first byte where two files part. */
function firstDifferentLine(a: Buffer, b: Buffer): number {
  const length = Math.min(a.length, b.length);
  let line = 1;
  for (let i = 0; i < length && a[i] === b[i]; i++) if (a[i] === 0x0a) line++;
  return line;
}

export function diffTrees(expected: FileTree, actual: FileTree): TreeDiff {
  const diff: TreeDiff = { missing: [], extra: [], changed: [] };
  for (const [path, bytes] of expected) {
    const other = actual.get(path);
    if (other === undefined) diff.missing.push(path);
    else if (!bytes.equals(other)) diff.changed.push({ path, line: firstDifferentLine(bytes, other) });
  }
  for (const path of actual.keys()) if (!expected.has(path)) diff.extra.push(path);
  diff.missing.sort();
  diff.extra.sort();
  diff.changed.sort((a, b) => a.path.localeCompare(b.path));
  return diff;
}

export const sameTree = (diff: TreeDiff): boolean =>
  diff.missing.length === 0 && diff.extra.length === 0 && diff.changed.length === 0;

/** One phrase per difference, `expectedName`/`actualName` saying which tree is which, at most `limit` of them. */
export function describeDiff(
  diff: TreeDiff,
  names: { expected: string; actual: string },
  limit = 10,
): string[] {
  const all = [
    ...diff.changed.map((c) => `${c.path} differs from line ${c.line}`),
    ...diff.missing.map((path) => `${path} is in ${names.expected} but not in ${names.actual}`),
    ...diff.extra.map((path) => `${path} is in ${names.actual} but not in ${names.expected}`),
  ];
  return all.length > limit ? [...all.slice(0, limit), `… and ${all.length - limit} more`] : all;
}
