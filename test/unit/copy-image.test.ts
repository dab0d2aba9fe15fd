import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { copyByDigest, manifestBlobs } from '../../src/copy-image.ts';
import { type Manifest, MEDIA_TYPES, type OciClient } from '../../src/oci.ts';
import { sha } from '../support/digest.ts';

const OTHER = `sha256:${'0'.repeat(64)}`;

describe('copying by digest', () => {
  const config = Buffer.from('{"flux":"config"}');
  const layer = Buffer.from('gzipped tarball');
  const body = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.ociManifest,
      config: {
        mediaType: 'application/vnd.cncf.flux.config.v1+json',
        digest: sha(config),
        size: config.length,
      },
      layers: [
        {
          mediaType: 'application/vnd.cncf.flux.content.v1.tar+gzip',
          digest: sha(layer),
          size: layer.length,
        },
      ],
    }),
  );
  const stored: Manifest = { digest: sha(body), mediaType: MEDIA_TYPES.ociManifest, size: body.length, body };

  /** A source holding the manifest and its blobs, and a target that records writes and fails any read. */
  function clients(
    blobs = new Map([
      [sha(config), config],
      [sha(layer), layer],
    ]),
  ) {
    const writes: string[] = [];
    const source = {
      registry: 'primary',
      getManifest: async (_repository: string, reference: string) =>
        reference === stored.digest ? stored : undefined,
      getBlob: async (_repository: string, digest: string) => blobs.get(digest) ?? Buffer.alloc(0),
    } as unknown as OciClient;
    const refuseRead = async () => assert.fail('the mirror must not read from the target registry');
    const target = {
      registry: 'secondary',
      getManifest: refuseRead,
      headManifest: refuseRead,
      getBlob: refuseRead,
      uploadBlob: async (repository: string, digest: string, bytes: Buffer) => {
        assert.equal(sha(bytes), digest);
        writes.push(`blob ${repository} ${digest}`);
      },
      putManifest: async (repository: string, reference: string, mediaType: string, bytes: Buffer) => {
        assert.ok(bytes.equals(body));
        writes.push(`manifest ${repository} ${reference} ${mediaType}`);
        return sha(bytes);
      },
    } as unknown as OciClient;
    return { source, target, writes };
  }

  test('uploads every blob, then PUTs the manifest by digest only; nothing is read from the target', async () => {
    const { source, target, writes } = clients();
    const copied = await copyByDigest(source, target, 'svc-manifests', stored.digest);
    assert.deepEqual(copied, { digest: stored.digest, mediaType: MEDIA_TYPES.ociManifest, body, blobs: 2 });
    assert.deepEqual(
      writes.slice(0, 2).sort(),
      [`blob svc-manifests ${sha(config)}`, `blob svc-manifests ${sha(layer)}`].sort(),
    );
    assert.deepEqual(writes[2], `manifest svc-manifests ${stored.digest} ${MEDIA_TYPES.ociManifest}`);
  });

  test('a blob whose size differs from its descriptor is not uploaded, nor is the manifest', async () => {
    const { source, target, writes } = clients(
      new Map([
        [sha(config), config],
        [sha(layer), Buffer.from('x')],
      ]),
    );
    await assert.rejects(
      copyByDigest(source, target, 'svc-manifests', stored.digest),
      /blob sha256:[0-9a-f]{64} of svc-manifests is 1 bytes, its manifest says 15/,
    );
    assert.ok(!writes.some((w) => w.startsWith('manifest')));
  });

  test('a manifest missing from the source is an error', async () => {
    const { source, target } = clients();
    await assert.rejects(
      copyByDigest(source, target, 'svc-manifests', OTHER),
      /is not in the source registry/,
    );
  });

  test("a manifest's blobs: config and layers once each; its own media type before the header's", () => {
    const twice = Buffer.from(
      JSON.stringify({
        mediaType: MEDIA_TYPES.dockerManifest,
        config: { digest: sha('c'), size: 1 },
        layers: [
          { digest: sha('l'), size: 1 },
          { digest: sha('l'), size: 1 },
        ],
      }),
    );
    const parsed = manifestBlobs({
      digest: sha(twice),
      mediaType: MEDIA_TYPES.ociManifest,
      size: 0,
      body: twice,
    });
    assert.equal(parsed.mediaType, MEDIA_TYPES.dockerManifest);
    assert.deepEqual(
      parsed.blobs.map((b) => b.digest),
      [sha('c'), sha('l')],
    );
  });

  test('an index, a blob without a sha256 digest, or no media type at all is refused', () => {
    const read = (json: unknown, mediaType = '') => {
      const bytes = Buffer.from(JSON.stringify(json));
      return () => manifestBlobs({ digest: sha(bytes), mediaType, size: 0, body: bytes });
    };
    assert.throws(read({ mediaType: MEDIA_TYPES.ociIndex, manifests: [] }), /is an image index/);
    assert.throws(
      read({ config: { digest: 'md5:abc', size: 1 }, layers: [] }, MEDIA_TYPES.ociManifest),
      /without a sha256 digest/,
    );
    assert.throws(read({ config: { digest: sha('c'), size: 1 }, layers: [] }), /has no media type/);
  });
});
