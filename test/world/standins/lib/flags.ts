// Command-line parsing with the rules and error texts of spf13/pflag (flux, cosign) and alecthomas/kingpin (tbot).
export type FlagKind = 'string' | 'bool' | 'stringSlice' | 'stringArray' | 'int' | 'duration';
export type FlagValue = string | boolean | string[] | number;

export interface FlagSpec {
  name: string;
  short?: string;
  kind: FlagKind;
  default?: FlagValue;
  /** kingpin: environment variable providing the value when the flag is absent. */
  envVar?: string;
  /** Validates/normalises a value; throws with the library's message on a bad one. */
  check?: (value: string) => void;
}

export class FlagError extends Error {}
export class HelpRequested extends Error {}

export interface Parsed {
  values: Map<string, FlagValue>;
  changed: Set<string>;
  args: string[];
}

const BOOL_TRUE = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const BOOL_FALSE = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False']);

export function parseGoBool(s: string): boolean {
  if (BOOL_TRUE.has(s)) return true;
  if (BOOL_FALSE.has(s)) return false;
  throw new Error(`strconv.ParseBool: parsing ${JSON.stringify(s)}: invalid syntax`);
}

const UNITS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  μs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/** Go's time.ParseDuration, in milliseconds. */
export function parseGoDuration(s: string): number {
  const bad = () => new Error(`time: invalid duration ${JSON.stringify(s)}`);
  let rest = s;
  let sign = 1;
  if (rest.startsWith('-') || rest.startsWith('+')) {
    sign = rest.startsWith('-') ? -1 : 1;
    rest = rest.slice(1);
  }
  if (rest === '0') return 0;
  if (!rest) throw bad();
  let total = 0;
  while (rest) {
    const m = /^(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/.exec(rest);
    if (!m)
      throw /^(\d+(?:\.\d*)?|\.\d+)/.test(rest)
        ? new Error(`time: missing unit in duration ${JSON.stringify(s)}`)
        : bad();
    total += Number(m[1]) * UNITS[m[2]!]!;
    rest = rest.slice(m[0].length);
  }
  return sign * total;
}

/** CSV splitting as pflag's StringSlice does it (encoding/csv, one record). */
function splitCsv(s: string): string[] {
  if (s === '') return [];
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (quoted) {
      if (c === '"' && s[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cur += c;
    } else if (c === '"' && cur === '') quoted = true;
    else if (c === ',') {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out;
}

function initial(specs: readonly FlagSpec[]): Map<string, FlagValue> {
  const values = new Map<string, FlagValue>();
  for (const s of specs) {
    if (s.default !== undefined) values.set(s.name, s.default);
    else if (s.kind === 'bool') values.set(s.name, false);
    else if (s.kind === 'stringSlice' || s.kind === 'stringArray') values.set(s.name, []);
    else if (s.kind === 'int' || s.kind === 'duration') values.set(s.name, 0);
    else values.set(s.name, '');
  }
  return values;
}

function assign(spec: FlagSpec, raw: string, p: Parsed, label: string): void {
  const invalid = (why: string) =>
    new FlagError(`invalid argument ${JSON.stringify(raw)} for "${label}" flag: ${why}`);
  try {
    spec.check?.(raw);
  } catch (error) {
    throw invalid((error as Error).message);
  }
  switch (spec.kind) {
    case 'bool':
      try {
        p.values.set(spec.name, parseGoBool(raw));
      } catch (error) {
        throw invalid((error as Error).message);
      }
      break;
    case 'int': {
      if (!/^[+-]?\d+$/.test(raw))
        throw invalid(`strconv.ParseInt: parsing ${JSON.stringify(raw)}: invalid syntax`);
      p.values.set(spec.name, Number(raw));
      break;
    }
    case 'duration':
      try {
        p.values.set(spec.name, parseGoDuration(raw));
      } catch (error) {
        throw invalid((error as Error).message);
      }
      break;
    case 'stringSlice':
    case 'stringArray': {
      // The first Set replaces the default; later ones append.
      const items = spec.kind === 'stringSlice' ? splitCsv(raw) : [raw];
      const prev = p.changed.has(spec.name) ? (p.values.get(spec.name) as string[]) : [];
      p.values.set(spec.name, [...prev, ...items]);
      break;
    }
    default:
      p.values.set(spec.name, raw);
  }
  p.changed.add(spec.name);
}

export interface PflagOptions {
  /** cosign's global normalisation (`--cert` → `--certificate`, ...). */
  normalize?: (name: string) => string;
}

/** spf13/pflag: interspersed flags, `--` ends them, `-h/--help` asks for help. */
export function parsePflag(
  argv: readonly string[],
  specs: readonly FlagSpec[],
  options: PflagOptions = {},
): Parsed {
  const p: Parsed = { values: initial(specs), changed: new Set(), args: [] };
  const byName = new Map(specs.map((s) => [s.name, s]));
  const byShort = new Map(specs.filter((s) => s.short).map((s) => [s.short!, s]));
  const label = (s: FlagSpec) => (s.short ? `-${s.short}, --${s.name}` : `--${s.name}`);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      p.args.push(...argv.slice(i + 1));
      break;
    }
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      let name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
      if (options.normalize) name = options.normalize(name);
      const spec = byName.get(name);
      if (!spec) {
        if (name === 'help') throw new HelpRequested();
        throw new FlagError(`unknown flag: --${name}`);
      }
      if (eq >= 0) assign(spec, arg.slice(eq + 1), p, label(spec));
      else if (spec.kind === 'bool') assign(spec, 'true', p, label(spec));
      else if (i + 1 < argv.length) assign(spec, argv[++i]!, p, label(spec));
      else throw new FlagError(`flag needs an argument: --${name}`);
      continue;
    }
    if (arg.startsWith('-') && arg.length > 1) {
      const shorts = arg.slice(1);
      for (let j = 0; j < shorts.length; j++) {
        const c = shorts[j]!;
        const spec = byShort.get(c);
        if (!spec) {
          if (c === 'h') throw new HelpRequested();
          throw new FlagError(`unknown shorthand flag: '${c}' in -${shorts}`);
        }
        const tail = shorts.slice(j + 1);
        if (spec.kind === 'bool') {
          if (tail.startsWith('=')) {
            assign(spec, tail.slice(1), p, label(spec));
            break;
          }
          assign(spec, 'true', p, label(spec));
          continue;
        }
        if (tail) assign(spec, tail.startsWith('=') ? tail.slice(1) : tail, p, label(spec));
        else if (i + 1 < argv.length) assign(spec, argv[++i]!, p, label(spec));
        else throw new FlagError(`flag needs an argument: '${c}' in -${shorts}`);
        break;
      }
      continue;
    }
    p.args.push(arg);
  }
  return p;
}

/**
 * cobra's command lookup (stripFlags): leading tokens that name subcommands, skipping flags and, for flags not
 * known to be boolean, their values.
 */
export function findCommandPath(
  argv: readonly string[],
  tree: Record<string, unknown>,
  boolFlags: ReadonlySet<string>,
): { path: string[]; rest: string[] } {
  const path: string[] = [];
  const rest: string[] = [];
  let node: Record<string, unknown> | undefined = tree;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      rest.push(...argv.slice(i));
      break;
    }
    if (arg.startsWith('--') && !arg.includes('=')) {
      rest.push(arg);
      if (!boolFlags.has(arg.slice(2)) && i + 1 < argv.length && node && Object.keys(node).length)
        rest.push(argv[++i]!);
      continue;
    }
    if (arg.startsWith('-') && arg.length === 2 && !boolFlags.has(arg.slice(1))) {
      rest.push(arg);
      if (i + 1 < argv.length && node && Object.keys(node).length) rest.push(argv[++i]!);
      continue;
    }
    if (arg.startsWith('-')) {
      rest.push(arg);
      continue;
    }
    const child: unknown = node?.[arg];
    if (node && Object.keys(node).length && child !== undefined) {
      path.push(arg);
      node = child as Record<string, unknown>;
      continue;
    }
    rest.push(arg);
  }
  return { path, rest };
}

// ---- kingpin ----

export interface KingpinParsed extends Parsed {
  command: string[];
  /** Environment variables whose values were taken (flag absent from the command line, value non-empty). */
  fromEnv: string[];
}

/**
 * alecthomas/kingpin as tbot configures it: `--flag=value`, `--flag value`, `--no-flag`, `-cVALUE`, commands with
 * defaults, no positional arguments unless declared.
 */
export function parseKingpin(
  argv: readonly string[],
  specs: readonly FlagSpec[],
  commands: Record<string, Record<string, unknown>>,
  defaults: Record<string, string>,
): KingpinParsed {
  const p: KingpinParsed = {
    values: initial(specs),
    changed: new Set(),
    args: [],
    command: [],
    fromEnv: [],
  };
  const byName = new Map(specs.map((s) => [s.name, s]));
  const byShort = new Map(specs.filter((s) => s.short).map((s) => [s.short!, s]));
  let node: Record<string, unknown> | undefined = commands;
  const set = (spec: FlagSpec, raw: string) => {
    if (spec.kind === 'bool') {
      p.values.set(spec.name, raw !== 'false');
      p.changed.add(spec.name);
      return;
    }
    try {
      spec.check?.(raw);
    } catch (error) {
      throw new FlagError((error as Error).message);
    }
    if (spec.kind === 'duration') {
      try {
        p.values.set(spec.name, parseGoDuration(raw));
      } catch (error) {
        throw new FlagError((error as Error).message);
      }
    } else if (spec.kind === 'stringSlice' || spec.kind === 'stringArray') {
      const prev = p.values.get(spec.name) as string[];
      p.values.set(spec.name, [...prev, raw]);
    } else p.values.set(spec.name, raw);
    p.changed.add(spec.name);
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      p.args.push(...argv.slice(i + 1));
      break;
    }
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
      if (name === 'help') throw new HelpRequested();
      const spec = byName.get(name);
      if (!spec && name.startsWith('no-')) {
        const positive = byName.get(name.slice(3));
        if (positive?.kind === 'bool') {
          set(positive, 'false');
          continue;
        }
      }
      if (!spec) throw new FlagError(`unknown long flag '--${name}'`);
      if (spec.kind === 'bool') {
        const v = eq >= 0 ? arg.slice(eq + 1) : 'true';
        if (v !== 'true' && v !== 'false') throw new FlagError(`unexpected ${v}`);
        set(spec, v);
      } else if (eq >= 0) set(spec, arg.slice(eq + 1));
      else if (i + 1 < argv.length) set(spec, argv[++i]!);
      else throw new FlagError(`expected argument for flag '--${name}'`);
      continue;
    }
    if (arg.startsWith('-') && arg.length > 1) {
      const c = arg[1]!;
      if (c === 'h') throw new HelpRequested();
      const spec = byShort.get(c);
      if (!spec) throw new FlagError(`unknown short flag '-${c}'`);
      const tail = arg.slice(2);
      if (spec.kind === 'bool') {
        set(spec, 'true');
        for (const more of tail) {
          const s = byShort.get(more);
          if (!s) throw new FlagError(`unknown short flag '-${more}'`);
          set(s, 'true');
        }
      } else if (tail) set(spec, tail);
      else if (i + 1 < argv.length) set(spec, argv[++i]!);
      else throw new FlagError(`expected argument for flag '-${c}'`);
      continue;
    }
    const child: unknown = node?.[arg];
    if (node && Object.keys(node).length && child !== undefined) {
      p.command.push(arg);
      node = child as Record<string, unknown>;
      continue;
    }
    if (node && Object.keys(node).length) {
      const fallback = defaults[p.command.join(' ')];
      if (fallback === undefined) throw new FlagError(`expected command but got ${JSON.stringify(arg)}`);
    }
    throw new FlagError(`unexpected ${arg}`);
  }
  // A command with a default subcommand runs it when none was named.
  for (;;) {
    const fallback = defaults[p.command.join(' ')];
    if (fallback === undefined) break;
    p.command.push(fallback);
  }
  for (const spec of specs) {
    if (p.changed.has(spec.name) || !spec.envVar) continue;
    // kingpin's envarMixin.HasEnvarValue: an empty variable counts as unset.
    const raw = process.env[spec.envVar];
    if (raw === undefined || raw === '') continue;
    if (spec.kind === 'bool') {
      // The value goes through boolValue.Set, i.e. strconv.ParseBool, not the `--flag`/`--no-flag` forms.
      try {
        p.values.set(spec.name, parseGoBool(raw));
      } catch (error) {
        throw new FlagError((error as Error).message);
      }
      p.changed.add(spec.name);
    } else set(spec, raw);
    p.fromEnv.push(spec.envVar);
  }
  return p;
}

export function str(p: Parsed, name: string): string {
  return p.values.get(name) as string;
}
export function bool(p: Parsed, name: string): boolean {
  return p.values.get(name) as boolean;
}
export function list(p: Parsed, name: string): string[] {
  return p.values.get(name) as string[];
}
export function num(p: Parsed, name: string): number {
  return p.values.get(name) as number;
}
