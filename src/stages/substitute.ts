import { chmod, lstat, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import semver from 'semver';
import { isMap, isScalar, LineCounter, parseAllDocuments, visit } from 'yaml';
import { code, lines, need, privateDir } from '../context.ts';
import { ActionError } from '../errors.ts';
import type { ChartFloor } from '../inputs.ts';
import type { Annotation, Log } from '../log.ts';
import { stage } from '../pipeline.ts';
import { PLACEHOLDER } from '../versions.ts';

export interface BakedFile {
  /** Path inside the baked tree, with forward slashes. */
  path: string;
  /** Placeholders replaced in it. */
  replaced: number;
}

export interface Baked {
  /** The substituted copy of the tree that is pushed; the checkout is never modified. */
  dir: string;
  /** Every regular file, in lexical order, with its substitution count. */
  files: BakedFile[];
}

declare module '../context.ts' {
  interface Results {
    substitute: Baked;
  }
}

export interface BakeOptions {
  version: string;
  forbiddenPatterns: readonly string[];
  chartFloors: readonly ChartFloor[];
  /** Prefix for annotation paths, so they point into the repository (e.g. `kustomization`). */
  displayPrefix: string;
}

interface Finding extends Annotation {
  message: string;
}

const YAML_FILE = /\.ya?ml$/i;

/** 1-based line of each offset, computed once per file. */
function lineOf(text: string, offset: number): number {
  let line = 1;
  for (let i = text.indexOf('\n'); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) line++;
  return line;
}

function occurrences(text: string, needle: string): number[] {
  const found: number[] = [];
  for (let i = text.indexOf(needle); i !== -1; i = text.indexOf(needle, i + needle.length)) found.push(i);
  return found;
}

/** `chart: NAME` with a sibling `version` below a floor, wherever it sits in a YAML document. */
export function chartFindings(text: string, floors: readonly ChartFloor[], file: string): Finding[] {
  if (floors.length === 0 || !/\bchart\s*:/.test(text)) return [];
  const counter = new LineCounter();
  const findings: Finding[] = [];
  for (const doc of parseAllDocuments(text, { lineCounter: counter })) {
    if (!('contents' in doc) || doc.errors.length > 0) continue;
    visit(doc, {
      Map(_key, map) {
        if (!isMap(map)) return;
        const chart = map.get('chart', true);
        const version = map.get('version', true);
        if (!isScalar(chart) || !isScalar(version)) return;
        const floor = floors.find((f) => f.chart === String(chart.value));
        if (!floor) return;
        const pinned = String(version.value);
        const lowest =
          semver.valid(pinned) ?? (semver.validRange(pinned) ? semver.minVersion(pinned)?.version : null);
        if (!lowest || !semver.lt(lowest, floor.floor)) return;
        findings.push({
          file,
          line: counter.linePos(version.range?.[0] ?? 0).line,
          message: `chart ${floor.chart} is pinned to ${pinned}, below the floor ${floor.floor}; raise it to ${floor.floor} or later`,
        });
      },
    });
  }
  return findings;
}

/**
 * One file's text after substitution (YAML files only), with what is wrong in it: a placeholder that survived,
 * a forbidden pattern. `file` is the path the annotations name.
 */
export function bakeText(
  original: string,
  yaml: boolean,
  file: string,
  options: Pick<BakeOptions, 'version' | 'forbiddenPatterns'>,
): { text: string; replaced: number; errors: Finding[] } {
  const replaced = yaml ? occurrences(original, PLACEHOLDER).length : 0;
  const text = replaced > 0 ? original.split(PLACEHOLDER).join(options.version) : original;
  const errors: Finding[] = [];
  for (const offset of occurrences(text, PLACEHOLDER)) {
    const line = lineOf(text, offset);
    errors.push({
      file,
      line,
      message: `${file}:${line} still holds ${PLACEHOLDER}; only *.yaml and *.yml files are substituted. Rename the file or drop the placeholder.`,
    });
  }
  for (const pattern of options.forbiddenPatterns) {
    for (const offset of occurrences(text, pattern)) {
      const line = lineOf(text, offset);
      errors.push({
        file,
        line,
        message: `${file}:${line} mentions the forbidden ${JSON.stringify(pattern)}; point it at the current registry.`,
      });
    }
  }
  return { text, replaced, errors };
}

/** Fails with every problem found (the first five in the message, all as annotations), or when nothing was baked. */
function refuseProblems(
  errors: readonly Finding[],
  files: readonly BakedFile[],
  options: BakeOptions,
  log: Log,
) {
  for (const { message, file, line } of errors) log.error(message, { file, line });
  if (errors.length > 0) {
    const shown = errors.slice(0, 5).map((e) => e.message);
    const more = errors.length > 5 ? `\n… and ${errors.length - 5} more (see the annotations)` : '';
    throw new ActionError(`the baked tree has ${errors.length} problem(s):\n${shown.join('\n')}${more}`, {
      hint: 'fix the files in the repository and tag a new version',
    });
  }
  if (files.length === 0) {
    throw new ActionError(`bake-path '${options.displayPrefix}' holds no files`, {
      hint: 'point `bake-path` at the kustomization directory',
    });
  }
}

/**
 * Copies `source` to `target`, substituting the placeholder in YAML files, and checks the result:
 * no placeholder left in any file, no forbidden pattern, no symlink or special file.
 * Chart floors below the minimum are warnings. Problems are annotated with file:line.
 */
export async function bake(
  source: string,
  target: string,
  options: BakeOptions,
  log: Log,
): Promise<BakedFile[]> {
  const files: BakedFile[] = [];
  const errors: Finding[] = [];
  const at = (path: string) => posix.join(options.displayPrefix, path);

  const walk = async (rel: string): Promise<void> => {
    const entries = (await readdir(join(source, rel))).sort();
    for (const name of entries) {
      const path = rel === '' ? name : `${rel}/${name}`;
      const info = await lstat(join(source, path));
      const mode = info.mode & 0o777;
      if (info.isDirectory()) {
        await mkdir(join(target, path), { mode });
        await walk(path);
        continue;
      }
      if (!info.isFile()) {
        const kind = info.isSymbolicLink() ? 'a symlink' : 'not a regular file or directory';
        errors.push({
          file: at(path),
          line: 1,
          message: `${at(path)} is ${kind}; flux would silently leave it out of the artifact. Replace it with a regular file.`,
        });
        continue;
      }
      // latin1 maps every byte to one char and back, so non-UTF-8 bytes survive untouched.
      const original = (await readFile(join(source, path))).toString('latin1');
      const yaml = YAML_FILE.test(name);
      const baked = bakeText(original, yaml, at(path), options);
      errors.push(...baked.errors);
      if (yaml) {
        for (const { message, file, line } of chartFindings(baked.text, options.chartFloors, at(path))) {
          log.warning(`${file}:${line}: ${message}`, { file, line });
        }
      }
      await writeFile(join(target, path), Buffer.from(baked.text, 'latin1'), { mode });
      await chmod(join(target, path), mode);
      files.push({ path, replaced: baked.replaced });
    }
  };

  await walk('');
  refuseProblems(errors, files, options, log);
  return files;
}

export const substitute = stage({
  name: 'substitute',
  needs: ['resolve', 'checkout'],
  async run(ctx, log) {
    const { version } = need(ctx, 'resolve');
    const { bakeDir } = need(ctx, 'checkout');
    const dir = await privateDir(ctx, 'bake');
    const files = await bake(
      bakeDir,
      dir,
      {
        version,
        forbiddenPatterns: ctx.inputs.forbiddenPatterns,
        chartFloors: ctx.inputs.chartVersionFloors,
        displayPrefix: ctx.inputs.bakePath,
      },
      log,
    );
    const substituted = files.filter((f) => f.replaced > 0);
    for (const f of substituted) log.info(`${f.path}: ${f.replaced} × ${PLACEHOLDER} → ${version}`);
    const total = substituted.reduce((sum, f) => sum + f.replaced, 0);
    log.info(`${files.length} files baked, ${total} placeholders in ${substituted.length} files substituted`);
    ctx.facts.push({ label: 'files baked', value: String(files.length) });
    ctx.facts.push({
      label: 'files substituted',
      value: substituted.length ? lines(substituted.map((f) => [code(f.path), ` × ${f.replaced}`])) : 'none',
    });
    return { dir, files };
  },
});
