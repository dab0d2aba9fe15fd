import { posix } from 'node:path';
// The parser alone: the package's main entry is one prebuilt file that carries all of tar (about 50 kB more).
import { Parser } from 'tar/parse';
import type { ReadEntry } from 'tar/read-entry';
import { ActionError } from './errors.ts';
import { isDigest, MEDIA_TYPES, type OciClient } from './oci.ts';
import { describeDiff, diffTrees, type FileTree } from './tree.ts';

/** What `flux push artifact` writes (fluxcd/pkg oci): one gzipped tarball layer under a Flux config. */
export const FLUX_MEDIA_TYPES = {
  manifest: MEDIA_TYPES.ociManifest,
  config: 'application/vnd.cncf.flux.config.v1+json',
  layer: 'application/vnd.cncf.flux.content.v1.tar+gzip',
} as const;

export const ANNOTATIONS = {
  revision: 'org.opencontainers.image.revision',
  source: 'org.opencontainers.image.source',
  created: 'org.opencontainers.image.created',
} as const;

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
}

export interface FluxManifest {
  config: Descriptor;
  layer: Descriptor;
  annotations: Record<string, string>;
}

export interface FluxArtifact extends FluxManifest {
  digest: string;
  files: FileTree;
}

/** The manifest is there but is not what flux pushes; `problems` say how. */
export class NotFluxArtifact extends ActionError {
  constructor(
    readonly reference: string,
    /** The manifest's digest. */
    readonly digest: string,
    readonly problems: string[],
  ) {
    super(`${reference} is not a Flux artifact: ${problems.join('; ')}`);
    this.name = 'NotFluxArtifact';
  }
}

const LAYER_LIMIT = 64 << 20;

function descriptor(value: unknown): Descriptor | undefined {
  const d = value as Partial<Descriptor> | null;
  if (typeof d?.mediaType !== 'string' || typeof d.digest !== 'string' || typeof d.size !== 'number') return;
  return { mediaType: d.mediaType, digest: d.digest, size: d.size };
}

/** Reads a manifest as Flux's; lists every way it departs from one, or none. */
export function parseFluxManifest(
  mediaType: string,
  body: Buffer,
): { manifest: FluxManifest | undefined; problems: string[] } {
  const problems: string[] = [];
  let json: { mediaType?: unknown; config?: unknown; layers?: unknown; annotations?: unknown };
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    return { manifest: undefined, problems: ['its manifest is not JSON'] };
  }
  const type = mediaType || (typeof json.mediaType === 'string' ? json.mediaType : '');
  if (type !== FLUX_MEDIA_TYPES.manifest) {
    problems.push(`its manifest is ${type || 'untyped'}, not ${FLUX_MEDIA_TYPES.manifest}`);
  }
  const config = descriptor(json.config);
  if (config?.mediaType !== FLUX_MEDIA_TYPES.config) {
    problems.push(`its config is ${config?.mediaType ?? 'missing'}, not ${FLUX_MEDIA_TYPES.config}`);
  }
  const layers = Array.isArray(json.layers) ? json.layers.map(descriptor) : [];
  const layer = layers.length === 1 ? layers[0] : undefined;
  if (layers.length !== 1) problems.push(`it has ${layers.length} layers, not one`);
  else if (layer?.mediaType !== FLUX_MEDIA_TYPES.layer) {
    problems.push(`its layer is ${layer?.mediaType ?? 'malformed'}, not ${FLUX_MEDIA_TYPES.layer}`);
  } else if (!isDigest(layer.digest)) problems.push(`its layer digest ${layer.digest} is not sha256`);
  const annotations: Record<string, string> = {};
  if (json.annotations && typeof json.annotations === 'object') {
    for (const [key, value] of Object.entries(json.annotations)) {
      if (typeof value === 'string') annotations[key] = value;
    }
  }
  if (problems.length > 0 || !config || !layer) return { manifest: undefined, problems };
  return { manifest: { config, layer, annotations }, problems };
}

/** The regular files of a gzipped tarball, in memory; directories are implied, nothing else is expected. */
export function unpackLayer(gzipped: Buffer): Promise<FileTree> {
  if (gzipped[0] !== 0x1f || gzipped[1] !== 0x8b) {
    return Promise.reject(new ActionError('the artifact layer is not gzip-compressed'));
  }
  return new Promise((resolve, reject) => {
    const files: FileTree = new Map();
    const odd: string[] = [];
    const reading: Promise<void>[] = [];
    const parser = new Parser({
      strict: true,
      onReadEntry(entry: ReadEntry) {
        // flux names entries relative to --path; an absolute --path gives "./x" or "x".
        const path = posix
          .normalize(entry.path)
          .replace(/^\.\/+/, '')
          .replace(/\/+$/, '');
        if (entry.type === 'Directory') return void entry.resume();
        if (entry.type !== 'File' && entry.type !== 'OldFile' && entry.type !== 'ContiguousFile') {
          odd.push(`${path} (${entry.type})`);
          return void entry.resume();
        }
        const chunks: Buffer[] = [];
        reading.push(
          new Promise((done) => {
            entry.on('data', (chunk: Buffer) => chunks.push(chunk));
            entry.on('end', () => {
              files.set(path, Buffer.concat(chunks));
              done();
            });
          }),
        );
      },
    });
    parser.on('error', (error: Error) =>
      reject(new ActionError(`the artifact layer is not a readable tarball: ${error.message}`)),
    );
    parser.on('end', () => {
      Promise.all(reading).then(() => {
        if (odd.length > 0) {
          reject(new ActionError(`the artifact layer holds entries flux does not write: ${odd.join(', ')}`));
        } else resolve(files);
      }, reject);
    });
    parser.end(gzipped);
  });
}

/**
 * Pulls a Flux artifact by tag or digest: manifest, then its one layer (digest checked), unpacked.
 * Undefined when the reference is absent; NotFluxArtifact when it holds something else.
 */
export async function pullFluxArtifact(
  client: OciClient,
  repository: string,
  reference: string,
): Promise<FluxArtifact | undefined> {
  const found = await client.getManifest(repository, reference);
  if (!found) return undefined;
  const where = `${client.registry}/${repository}${isDigest(reference) ? '@' : ':'}${reference}`;
  const { manifest, problems } = parseFluxManifest(found.mediaType, found.body);
  if (!manifest) throw new NotFluxArtifact(where, found.digest, problems);
  const layer = await client.getBlob(repository, manifest.layer.digest, LAYER_LIMIT);
  if (layer.length !== manifest.layer.size) {
    throw new NotFluxArtifact(where, found.digest, [
      `its layer is ${layer.length} bytes, the manifest says ${manifest.layer.size}`,
    ]);
  }
  return { ...manifest, digest: found.digest, files: await unpackLayer(layer) };
}

/** What this run would push: the revision annotation and the baked files. */
export interface ExpectedArtifact {
  revision: string;
  files: FileTree;
}

/** Every way a pulled artifact departs from what this run would push; empty when it holds exactly that. */
export function compareArtifact(expected: ExpectedArtifact, actual: FluxArtifact, limit = 10): string[] {
  const differences: string[] = [];
  const revision = actual.annotations[ANNOTATIONS.revision];
  if (revision !== expected.revision) {
    differences.push(`its revision is ${revision ?? '(none)'}, this run's is ${expected.revision}`);
  }
  const diff = diffTrees(expected.files, actual.files);
  differences.push(...describeDiff(diff, { expected: 'this bake', actual: 'the tag' }, limit));
  return differences;
}
