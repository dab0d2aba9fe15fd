import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import type { FileTree } from '../../src/tree.ts';

/** A FileTree (path → bytes) from path → text. */
export const tree = (files: Record<string, string>): FileTree =>
  new Map(Object.entries(files).map(([path, text]) => [path, Buffer.from(text)]));

/** Writes path → content under root, making the directories on the way. */
export async function writeTree(root: string, files: Record<string, string | Buffer>): Promise<void> {
  for (const [path, content] of Object.entries(files)) {
    await mkdir(join(root, path, '..'), { recursive: true });
    await writeFile(join(root, path), content);
  }
}

/** Makes temporary directories for the calling test file; all of them go after its tests. */
export function tempDirs(prefix: string): () => Promise<string> {
  const made: string[] = [];
  after(() => Promise.all(made.map((dir) => rm(dir, { recursive: true, force: true }))));
  return async () => {
    const dir = await mkdtemp(join(tmpdir(), prefix));
    made.push(dir);
    return dir;
  };
}

/** `files` in `<root>/src` and an empty `<root>/out`: what the bake reads and where it writes. */
export async function sourceAndTarget(
  root: string,
  files: Record<string, string | Buffer>,
): Promise<{ source: string; target: string }> {
  const source = join(root, 'src');
  const target = join(root, 'out');
  await mkdir(source);
  await mkdir(target);
  await writeTree(source, files);
  return { source, target };
}
