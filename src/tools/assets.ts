import { ActionError } from '../errors.ts';

export type ToolName = 'tbot' | 'flux' | 'cosign';
export type Arch = 'amd64' | 'arm64';

/**
 * sha256 of upstream assets, keyed `<tool>@<version>/<arch>`. A pinned asset is checked against this
 * table only; any other is checked against the release's own checksum file.
 *
 * cosign v2.6.4 (the default) and v2.6.1: sigstore/cosign-installer never bootstrapped a 2.6.x after 2.6.0 (it
 * went on to v3), so these are the values that unrelated public installers and pin lists give for
 * cosign-linux-<arch>, each pair found in at least five independent files, all agreeing (2.6.1 e.g. in
 * NEJCPM/pritunl-client-github-action and HCDestroyer/horus-flow).
 * flux 2.9.4: not pinned. Public pins disagree (c2c397a5… and 4092b367… are both given for
 * flux_2.9.4_linux_amd64.tar.gz), so no value could be established; flux_2.9.4_checksums.txt decides.
 * tbot: the version follows the Teleport cluster, so `<asset>.sha256` always decides.
 */
export const PINNED_SHA256: Readonly<Record<string, string>> = {
  'cosign@2.6.4/amd64': '309779b0c4e409186b0a80daba99041fe2cf65a920ce645013901df6211895a9',
  'cosign@2.6.4/arm64': 'df408e5418129306fed7349ec46e27be0445d05c5127c07f435e9a566af67593',
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
