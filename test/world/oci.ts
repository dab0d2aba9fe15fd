// Small OCI distribution client for the raw registry, and a tiny real image for seeding service repositories.
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';

export const MEDIA = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
} as const;

/** Every manifest type we may find, so the registry never answers "not acceptable". */
export const MANIFEST_ACCEPT = [
  MEDIA.ociManifest,
  MEDIA.ociIndex,
  MEDIA.dockerManifest,
  MEDIA.dockerList,
  'application/vnd.docker.distribution.manifest.v1+prettyjws',
  'application/vnd.docker.distribution.manifest.v1+json',
].join(', ');

export const sha256 = (data: Buffer | string) => `sha256:${createHash('sha256').update(data).digest('hex')}`;

export const isDigest = (ref: string) => /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/.test(ref);

export interface StoredManifest {
  digest: string;
  mediaType: string;
  body: Buffer;
}

const path = (repo: string, kind: string, ref: string) => `/v2/${repo}/${kind}/${ref}`;

/** GET a manifest by tag or digest from a raw registry; undefined when it is not there. */
export async function getManifest(
  registryUrl: string,
  repo: string,
  ref: string,
): Promise<StoredManifest | undefined> {
  const res = await fetch(registryUrl + path(repo, 'manifests', ref), {
    headers: { accept: MANIFEST_ACCEPT },
  });
  const body = Buffer.from(await res.arrayBuffer());
  if (res.status === 404) return undefined;
  if (res.status !== 200)
    throw new Error(`registry GET manifest ${repo}:${ref}: ${res.status} ${body.toString()}`);
  return {
    digest: res.headers.get('docker-content-digest') ?? sha256(body),
    mediaType: (res.headers.get('content-type') ?? '').split(';')[0]?.trim() ?? '',
    body,
  };
}

/** Tags of a repository in the raw registry (a repository with nothing pushed yet has none). */
export async function listTags(registryUrl: string, repo: string): Promise<string[]> {
  const res = await fetch(`${registryUrl}/v2/${repo}/tags/list?n=10000`);
  const text = await res.text();
  if (res.status === 404) return [];
  if (res.status !== 200) throw new Error(`registry tags/list ${repo}: ${res.status} ${text}`);
  return ((JSON.parse(text) as { tags?: string[] | null }).tags ?? []).sort();
}

export async function blobExists(registryUrl: string, repo: string, digest: string): Promise<boolean> {
  const res = await fetch(registryUrl + path(repo, 'blobs', digest), { method: 'HEAD' });
  return res.status === 200;
}

/** Monolithic blob upload (POST then PUT ?digest=). */
export async function pushBlob(registryUrl: string, repo: string, data: Buffer): Promise<string> {
  const digest = sha256(data);
  if (await blobExists(registryUrl, repo, digest)) return digest;
  const start = await fetch(`${registryUrl}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
  await start.arrayBuffer();
  const location = start.headers.get('location');
  if (start.status !== 202 || !location) throw new Error(`registry upload start ${repo}: ${start.status}`);
  const url = new URL(location, registryUrl);
  url.searchParams.set('digest', digest);
  const put = await fetch(url, {
    method: 'PUT',
    body: data,
    // fetch sets Content-Length itself; Node 20's fetch refuses one given by hand once undici 7 (which the
    // action's modules load) has become its global dispatcher.
    headers: { 'content-type': 'application/octet-stream' },
  });
  const text = await put.text();
  if (put.status !== 201) throw new Error(`registry upload ${repo}@${digest}: ${put.status} ${text}`);
  return digest;
}

export async function putManifest(
  registryUrl: string,
  repo: string,
  ref: string,
  body: Buffer,
  mediaType: string,
): Promise<string> {
  const res = await fetch(registryUrl + path(repo, 'manifests', ref), {
    method: 'PUT',
    body,
    headers: { 'content-type': mediaType },
  });
  const text = await res.text();
  if (res.status !== 201) throw new Error(`registry PUT manifest ${repo}:${ref}: ${res.status} ${text}`);
  return res.headers.get('docker-content-digest') ?? sha256(body);
}

/** DELETE a manifest by digest (the registry drops every tag pointing at it). */
export async function deleteManifest(registryUrl: string, repo: string, digest: string): Promise<boolean> {
  const res = await fetch(registryUrl + path(repo, 'manifests', digest), { method: 'DELETE' });
  await res.arrayBuffer();
  if (res.status === 404) return false;
  if (res.status !== 202) throw new Error(`registry DELETE ${repo}@${digest}: ${res.status}`);
  return true;
}

/** A one-file ustar archive; enough for a real, pullable layer. */
function tarOneFile(name: string, content: Buffer): Buffer {
  const header = Buffer.alloc(512);
  const field = (offset: number, length: number, value: string) =>
    header.write(value, offset, length, 'ascii');
  const octal = (value: number, length: number) => value.toString(8).padStart(length - 1, '0');
  field(0, 100, name);
  field(100, 8, octal(0o644, 8));
  field(108, 8, octal(0, 8));
  field(116, 8, octal(0, 8));
  field(124, 12, octal(content.length, 12));
  field(136, 12, octal(0, 12));
  field(148, 8, '        ');
  field(156, 1, '0');
  field(257, 6, 'ustar');
  field(263, 2, '00');
  let sum = 0;
  for (const byte of header) sum += byte;
  field(148, 8, `${sum.toString(8).padStart(6, '0')}\0 `);
  const pad = Buffer.alloc((512 - (content.length % 512)) % 512);
  return Buffer.concat([header, content, pad, Buffer.alloc(1024)]);
}

/** Pushes a tiny real OCI image (config, one layer, manifest) under `tag`; same repo:tag gives the same digest. */
export async function pushTinyImage(
  registryUrl: string,
  repo: string,
  tag: string,
): Promise<{ digest: string; mediaType: string; manifest: Buffer }> {
  const tar = tarOneFile('hello.txt', Buffer.from(`seeded image ${repo}:${tag}\n`));
  const layer = gzipSync(tar);
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: { Cmd: ['/hello.txt'] },
      rootfs: { type: 'layers', diff_ids: [sha256(tar)] },
    }),
  );
  const [configDigest, layerDigest] = await Promise.all([
    pushBlob(registryUrl, repo, config),
    pushBlob(registryUrl, repo, layer),
  ]);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA.ociManifest,
      config: { mediaType: MEDIA.ociConfig, digest: configDigest, size: config.length },
      layers: [{ mediaType: MEDIA.ociLayerGzip, digest: layerDigest, size: layer.length }],
    }),
  );
  const digest = await putManifest(registryUrl, repo, tag, manifest, MEDIA.ociManifest);
  return { digest, mediaType: MEDIA.ociManifest, manifest };
}
