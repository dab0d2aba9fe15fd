// Builds the stand-in CLIs and lays them out on the local tool mirror exactly where the upstream releases live.
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { ensureControlDir, ensureStandinKeys } from './control.ts';
import { tarGz } from './lib/tarball.ts';

export type StandinArch = 'amd64' | 'arm64';
export type StandinTool = 'flux' | 'cosign' | 'tbot';

export interface PublishOptions {
  /** Where stand-ins record calls and read faults and keys; baked into every binary. */
  controlDir: string;
  versions: { flux: string; cosign: string; teleport: string };
  /** The runner's CPU: binaries of the other architecture refuse to run. Default: this machine's. */
  arch?: StandinArch;
}

export interface PublishedAsset {
  tool: StandinTool;
  arch: StandinArch | null;
  /** Path under the mirror root, e.g. `github.com/fluxcd/flux2/releases/download/v2.9.4/flux_2.9.4_linux_amd64.tar.gz`. */
  relativePath: string;
  path: string;
  sha256: string;
  size: number;
}

/** Placeholders compiled into the cached bundles and swapped for per-world values on publish. */
const PLACEHOLDER = {
  controlDir: '@@STANDIN_CONTROL_DIR_5b1e0c@@',
  version: '@@STANDIN_VERSION_5b1e0c@@',
  arch: '@@STANDIN_ARCH_5b1e0c@@',
} as const;

const HERE = dirname(fileURLToPath(import.meta.url));
const ARCHES: StandinArch[] = ['amd64', 'arm64'];

let bundles: Promise<Record<StandinTool, string>> | undefined;

/** Bundles the three stand-ins once per process; only the baked values differ between worlds. */
export function buildStandinBundles(): Promise<Record<StandinTool, string>> {
  bundles ??= (async () => {
    const result = await build({
      entryPoints: {
        flux: join(HERE, 'flux.ts'),
        cosign: join(HERE, 'cosign.ts'),
        tbot: join(HERE, 'tbot.ts'),
      },
      outdir: join(HERE, '.out'),
      write: false,
      bundle: true,
      platform: 'node',
      target: 'node20',
      // CommonJS: the binaries have no extension and no package.json next to them.
      format: 'cjs',
      minifySyntax: true,
      legalComments: 'none',
      logLevel: 'warning',
      banner: { js: '#!/usr/bin/env node' },
      define: {
        __STANDIN_CONTROL_DIR__: JSON.stringify(PLACEHOLDER.controlDir),
        __STANDIN_VERSION__: JSON.stringify(PLACEHOLDER.version),
        __STANDIN_ARCH__: JSON.stringify(PLACEHOLDER.arch),
      },
    });
    const out = {} as Record<StandinTool, string>;
    for (const file of result.outputFiles) {
      const name = file.path.split('/').pop()?.replace(/\.js$/, '') as StandinTool;
      out[name] = file.text;
    }
    for (const tool of ['flux', 'cosign', 'tbot'] as const) {
      if (!out[tool]) throw new Error(`esbuild produced no ${tool} bundle`);
    }
    return out;
  })();
  bundles.catch(() => {
    bundles = undefined;
  });
  return bundles;
}

function bake(text: string, values: { controlDir: string; version: string; arch: string }): Buffer {
  let out = text;
  for (const key of ['controlDir', 'version', 'arch'] as const) {
    const quoted = JSON.stringify(PLACEHOLDER[key]);
    if (!out.includes(quoted)) throw new Error(`stand-in bundle lost its ${key} placeholder`);
    out = out.split(quoted).join(JSON.stringify(values[key]));
  }
  return Buffer.from(out);
}

function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

function hostArch(): StandinArch {
  return process.arch === 'arm64' ? 'arm64' : 'amd64';
}

/** A file that stands for a release asset we never serve; only its checksum line matters. */
function otherAsset(name: string): string {
  return sha256(`stand-in placeholder for ${name}`);
}

function placeholderScript(name: string): Buffer {
  return Buffer.from(
    `#!/bin/sh\necho "${name}: placeholder in the stand-in Teleport archive; only tbot is emulated" >&2\nexit 1\n`,
  );
}

/**
 * Builds the stand-ins and writes upstream-shaped release assets (archives, raw binaries and checksum files) under
 * `mirrorRoot`. Also creates the stand-in Fulcio/Rekor keys in the control directory.
 */
export async function publishStandins(mirrorRoot: string, opts: PublishOptions): Promise<PublishedAsset[]>;
/** Positional form, as test/world/index.ts calls it. */
export async function publishStandins(
  mirrorRoot: string,
  versions: PublishOptions['versions'],
  controlDir: string,
): Promise<PublishedAsset[]>;
export async function publishStandins(
  mirrorRoot: string,
  optsOrVersions: PublishOptions | PublishOptions['versions'],
  controlDirArg?: string,
): Promise<PublishedAsset[]> {
  const opts: PublishOptions =
    'controlDir' in optsOrVersions
      ? optsOrVersions
      : { controlDir: controlDirArg ?? '', versions: optsOrVersions as PublishOptions['versions'] };
  if (!opts.controlDir) throw new Error('publishStandins: controlDir is required');
  const runnerArch = opts.arch ?? hostArch();
  ensureControlDir(opts.controlDir);
  ensureStandinKeys(opts.controlDir);
  const code = await buildStandinBundles();
  const published: PublishedAsset[] = [];
  const put = (
    tool: StandinTool,
    arch: StandinArch | null,
    relativePath: string,
    data: Buffer,
    mode = 0o644,
  ) => {
    const path = join(mirrorRoot, relativePath);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, data, { mode });
    chmodSync(path, mode);
    published.push({ tool, arch, relativePath, path, sha256: sha256(data), size: data.length });
    return sha256(data);
  };
  // Each architecture gets its own baked value, so files and checksums differ as real ones do; the binaries not
  // built for the runner's arch refuse to start (`:foreign`), like a wrong-arch ELF would.
  const binary = (tool: StandinTool, version: string, arch: StandinArch) =>
    bake(code[tool], {
      controlDir: opts.controlDir,
      version,
      arch: arch === runnerArch ? arch : `${arch}:foreign`,
    });

  // flux: goreleaser archives holding `flux` at the root, and one checksums file for the release.
  {
    const v = opts.versions.flux;
    const dir = `github.com/fluxcd/flux2/releases/download/v${v}`;
    const sums = new Map<string, string>();
    for (const arch of ARCHES) {
      const name = `flux_${v}_linux_${arch}.tar.gz`;
      const archive = tarGz([{ name: 'flux', type: 'file', mode: 0o755, data: binary('flux', v, arch) }]);
      sums.set(name, put('flux', arch, `${dir}/${name}`, archive));
    }
    for (const name of [
      `flux_${v}_darwin_amd64.tar.gz`,
      `flux_${v}_darwin_arm64.tar.gz`,
      `flux_${v}_linux_arm.tar.gz`,
      `flux_${v}_windows_amd64.zip`,
      `flux_${v}_windows_arm64.zip`,
    ]) {
      sums.set(name, otherAsset(name));
    }
    const lines = [...sums.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([n, s]) => `${s}  ${n}\n`);
    put('flux', null, `${dir}/flux_${v}_checksums.txt`, Buffer.from(lines.join('')));
  }

  // cosign: raw binaries plus cosign_checksums.txt.
  {
    const v = opts.versions.cosign;
    const dir = `github.com/sigstore/cosign/releases/download/v${v}`;
    const sums = new Map<string, string>();
    for (const arch of ARCHES) {
      const name = `cosign-linux-${arch}`;
      sums.set(name, put('cosign', arch, `${dir}/${name}`, binary('cosign', v, arch), 0o755));
    }
    for (const name of [
      'cosign-darwin-amd64',
      'cosign-darwin-arm64',
      'cosign-linux-arm',
      'cosign-linux-ppc64le',
      'cosign-linux-riscv64',
      'cosign-linux-s390x',
      'cosign-windows-amd64.exe',
      `cosign-${v}-1.aarch64.rpm`,
      `cosign-${v}-1.x86_64.rpm`,
      `cosign_${v}_amd64.deb`,
      `cosign_${v}_arm64.deb`,
    ]) {
      sums.set(name, otherAsset(name));
    }
    const lines = [...sums.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([n, s]) => `${s}  ${n}\n`);
    put('cosign', null, `${dir}/cosign_checksums.txt`, Buffer.from(lines.join('')));
  }

  // Teleport: teleport-v<V>-linux-<arch>-bin.tar.gz with a teleport/ directory, and a .sha256 next to each.
  {
    const v = opts.versions.teleport;
    for (const arch of ARCHES) {
      const name = `teleport-v${v}-linux-${arch}-bin.tar.gz`;
      const archive = tarGz([
        { name: 'teleport', type: 'dir', mode: 0o755 },
        {
          name: 'teleport/README.md',
          type: 'file',
          mode: 0o644,
          data: Buffer.from(`Teleport ${v} (stand-in archive: only tbot is emulated)\n`),
        },
        { name: 'teleport/VERSION', type: 'file', mode: 0o644, data: Buffer.from(`${v}\n`) },
        {
          name: 'teleport/fdpass-teleport',
          type: 'file',
          mode: 0o755,
          data: placeholderScript('fdpass-teleport'),
        },
        { name: 'teleport/install', type: 'file', mode: 0o755, data: placeholderScript('install') },
        { name: 'teleport/tbot', type: 'file', mode: 0o755, data: binary('tbot', v, arch) },
        { name: 'teleport/tctl', type: 'file', mode: 0o755, data: placeholderScript('tctl') },
        { name: 'teleport/teleport', type: 'file', mode: 0o755, data: placeholderScript('teleport') },
        {
          name: 'teleport/teleport-update',
          type: 'file',
          mode: 0o755,
          data: placeholderScript('teleport-update'),
        },
        { name: 'teleport/tsh', type: 'file', mode: 0o755, data: placeholderScript('tsh') },
      ]);
      const sum = put('tbot', arch, `cdn.teleport.dev/${name}`, archive);
      put('tbot', arch, `cdn.teleport.dev/${name}.sha256`, Buffer.from(`${sum}  ${name}\n`));
    }
  }
  return published;
}
