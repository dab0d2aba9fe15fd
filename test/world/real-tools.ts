// E2E_REAL_TOOLS=1: publish the real flux and cosign found on PATH in place of the stand-ins, under the same
// upstream paths and with checksum files, so the action installs and runs them through its real install path.

import { createHash } from 'node:crypto';
import { accessSync, constants } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { create as createTar } from 'tar';
import { MIRROR_PATHS } from './mirror.ts';

export const REAL_TOOLS = process.env['E2E_REAL_TOOLS'] === '1';

/** Why a test needs the stand-ins (their fault modes, call log or keyless signing against the world's OIDC). */
export const NEEDS_STANDINS = REAL_TOOLS ? 'E2E_REAL_TOOLS=1: needs the stand-in tools' : false;

const ARCH = process.arch === 'arm64' ? 'arm64' : 'amd64';

function onPath(tool: string): string {
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    const candidate = join(dir, tool);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  throw new Error(
    `E2E_REAL_TOOLS=1 but ${tool} is not on PATH; install the real ${tool} or unset E2E_REAL_TOOLS`,
  );
}

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

/** Overwrites the stand-in flux and cosign assets (and their checksum files) with the real binaries. */
export async function publishRealTools(
  publish: (relativePath: string, bytes: Buffer) => Promise<void>,
  versions: { flux: string; cosign: string },
): Promise<void> {
  const staging = await mkdtemp(join(tmpdir(), 'bake-real-tools-'));
  try {
    await writeFile(join(staging, 'flux'), await readFile(onPath('flux')), { mode: 0o755 });
    const archive = join(staging, 'flux.tar.gz');
    await createTar({ gzip: true, file: archive, cwd: staging, portable: true }, ['flux']);
    const flux = await readFile(archive);
    const fluxName = `flux_${versions.flux}_linux_${ARCH}.tar.gz`;
    await publish(MIRROR_PATHS.flux(versions.flux, ARCH), flux);
    await publish(MIRROR_PATHS.fluxChecksums(versions.flux), Buffer.from(`${sha256(flux)}  ${fluxName}\n`));

    const cosign = await readFile(onPath('cosign'));
    await publish(MIRROR_PATHS.cosign(versions.cosign, ARCH), cosign);
    await publish(
      MIRROR_PATHS.cosignChecksums(versions.cosign),
      Buffer.from(`${sha256(cosign)}  cosign-linux-${ARCH}\n`),
    );
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}
