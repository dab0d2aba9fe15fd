import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import { copyByDigest, manifestBlobs } from '../../src/copy-image.ts';
import { signatureLayers, signatureTag } from '../../src/cosign.ts';
import { ActionError } from '../../src/errors.ts';
import { readInputs } from '../../src/inputs.ts';
import {
  checkReference,
  judgeArtifact,
  judgeSignature,
  type MirrorPlace,
  waitUntilStored,
} from '../../src/mirror-rules.ts';
import { type Manifest, MEDIA_TYPES, type OciClient } from '../../src/oci.ts';
import { mirror } from '../../src/stages/mirror.ts';
import { fakeContext } from '../support/context.ts';
import { inputReader } from '../support/inputs.ts';
import { RecordingLog } from '../support/log.ts';

const sha = (data: Buffer | string) => `sha256:${createHash('sha256').update(data).digest('hex')}`;
const BAKED = `sha256:${'b'.repeat(64)}`;
const OTHER = `sha256:${'0'.repeat(64)}`;
const PLACE: MirrorPlace = {
  primary: {
    host: '515260921971.dkr.ecr.us-west-2.amazonaws.com',
    region: 'us-west-2',
    account: '515260921971',
  },
  secondary: {
    host: '515260921971.dkr.ecr.eu-central-1.amazonaws.com',
    region: 'eu-central-1',
    account: '515260921971',
  },
  repository: 'svc-manifests',
  tag: '1.2.3',
};
const SIG_TAG = signatureTag(BAKED);

/** Asserts an ActionError whose message and hint match. */
const refused = (message: RegExp, hint?: string | RegExp) => (error: unknown) => {
  assert.ok(error instanceof ActionError, String(error));
  assert.match(error.message, message);
  if (typeof hint === 'string') assert.ok(error.hint?.includes(hint), error.hint);
  else if (hint) assert.match(error.hint ?? '', hint);
  return true;
};

describe('the reference digest', () => {
  test('is what the primary stores under the tag, and must be the digest this run baked', () => {
    assert.equal(checkReference(BAKED, BAKED, PLACE), BAKED);
    assert.throws(
      () => checkReference(BAKED, OTHER, PLACE),
      refused(
        /^svc-manifests:1\.2\.3 in us-west-2 stores sha256:0{64}, not sha256:b{64} that this run baked and verified; nothing mirrored$/,
        /re-run the job/,
      ),
    );
    assert.throws(() => checkReference(BAKED, undefined, PLACE), refused(/in us-west-2 stores nothing, not/));
  });
});

describe('the version tag in the secondary region', () => {
  test('absent: copy; the same digest: already mirrored', () => {
    assert.equal(judgeArtifact(BAKED, undefined, PLACE), 'copy');
    assert.equal(judgeArtifact(BAKED, BAKED, PLACE), 'mirrored');
  });

  test('another digest: refused with the command that deletes the tag there, never overwritten', () => {
    assert.throws(
      () => judgeArtifact(BAKED, OTHER, PLACE),
      refused(
        /^515260921971\.dkr\.ecr\.eu-central-1\.amazonaws\.com\/svc-manifests:1\.2\.3 \(eu-central-1\) already holds sha256:0{64}, not sha256:b{64}; nothing overwritten$/,
        'aws ecr batch-delete-image --region eu-central-1 --registry-id 515260921971 --repository-name svc-manifests --image-ids imageTag=1.2.3',
      ),
    );
  });
});

describe('the signature tag in the secondary region', () => {
  const primary = { digest: sha('p'), layers: ['l1 s1', 'l1 s2'] };

  test('follows the primary: none there means nothing to mirror; absent is copied; the same is left alone', () => {
    assert.equal(judgeSignature(undefined, undefined, true, PLACE, SIG_TAG), 'none');
    assert.equal(judgeSignature(undefined, { digest: sha('x') }, true, PLACE, SIG_TAG), 'none');
    assert.equal(judgeSignature({ digest: sha('p') }, undefined, false, PLACE, SIG_TAG), 'copy');
    assert.equal(
      judgeSignature({ digest: sha('p') }, { digest: sha('p') }, false, PLACE, SIG_TAG),
      'mirrored',
    );
  });

  test('an older one whose signatures the primary all holds is replaced', () => {
    const older = { digest: sha('s'), layers: ['l1 s1'] };
    assert.equal(judgeSignature(primary, older, true, PLACE, SIG_TAG), 'replace');
  });

  test('one holding a signature the primary lacks is refused, naming the tag to delete', () => {
    const foreign = { digest: sha('s'), layers: ['l1 s1', 'l1 s3'] };
    assert.throws(
      () => judgeSignature(primary, foreign, true, PLACE, SIG_TAG),
      refused(
        new RegExp(
          `:${SIG_TAG.replace('.', '\\.')} \\(eu-central-1\\) holds 1 signature\\(s\\) the primary's`,
        ),
        `aws ecr batch-delete-image --region eu-central-1 --registry-id 515260921971 --repository-name svc-manifests --image-ids imageTag=${SIG_TAG}`,
      ),
    );
  });

  test('an older one in a repository whose signature tags cannot change is refused with the fix', () => {
    assert.throws(
      () => judgeSignature(primary, { digest: sha('s'), layers: [] }, false, PLACE, SIG_TAG),
      refused(/does not let signature tags change/, /put-image-tag-mutability --region eu-central-1/),
    );
  });

  test('signatures are told apart by payload and signature, since every signature of a digest has the same payload', () => {
    const body = Buffer.from(
      JSON.stringify({
        layers: [
          { digest: sha('payload'), annotations: { 'dev.cosignproject.cosign/signature': 'MEUCIQ1' } },
          { digest: sha('payload'), annotations: { 'dev.cosignproject.cosign/signature': 'MEUCIQ2' } },
        ],
      }),
    );
    assert.deepEqual(signatureLayers(body), [`${sha('payload')} MEUCIQ1`, `${sha('payload')} MEUCIQ2`]);
    assert.deepEqual(signatureLayers(Buffer.from('{}')), []);
  });
});

describe('waiting for ECR to show a write', () => {
  const instant = { sleep: async () => {}, random: () => 1 };

  test('looks again while nothing is shown, saying so each time, and returns what is then stored', async () => {
    const answers = [undefined, undefined, BAKED];
    const log = new RecordingLog();
    const found = await waitUntilStored(
      async () => answers.shift(),
      'svc@digest in eu-central-1',
      log,
      instant,
    );
    assert.equal(found, BAKED);
    assert.deepEqual(
      log.of('info').map((l) => l.message),
      [
        'waiting for ECR to show svc@digest in eu-central-1: look 1 found nothing; next look in 1000 ms',
        'waiting for ECR to show svc@digest in eu-central-1: look 2 found nothing; next look in 2000 ms',
      ],
    );
  });

  test('is bounded: gives up with what to do', async () => {
    let looks = 0;
    await assert.rejects(
      waitUntilStored(
        async () => {
          looks++;
          return undefined;
        },
        'x',
        new RecordingLog(),
        { ...instant, attempts: 3 },
      ),
      refused(/^ECR still does not show x$/, /re-run the job/),
    );
    assert.equal(looks, 3);
  });

  test('a failing look ends the wait at once', async () => {
    let looks = 0;
    const denied = new ActionError('ECR eu-central-1 did not say what it stores');
    await assert.rejects(
      waitUntilStored(
        async () => {
          looks++;
          throw denied;
        },
        'x',
        new RecordingLog(),
        instant,
      ),
      (error) => error === denied,
    );
    assert.equal(looks, 1);
  });
});

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

describe('when the mirror runs', () => {
  test('only with a secondary region, and never in a dry run', async () => {
    const secondary = {
      'aws-region-secondary': 'eu-central-1',
      'ecr-registry-secondary': '515260921971.dkr.ecr.eu-central-1.amazonaws.com',
    };
    const without = await fakeContext({ inputs: { 'dry-run': 'false' } });
    const dryRun = await fakeContext({ inputs: { 'dry-run': 'true', ...secondary } });
    const mirrored = await fakeContext({ inputs: { 'dry-run': 'false', ...secondary } });
    assert.equal(mirror.skip?.(without), 'aws-region-secondary is empty: no mirror');
    assert.equal(mirror.skip?.(dryRun), 'dry run');
    assert.equal(mirror.skip?.(mirrored), undefined);
  });

  test('after the artifact and its signature are verified, so a broken artifact is never mirrored', () => {
    assert.ok(mirror.needs.includes('push'));
    assert.ok(mirror.needs.includes('verify-artifact'));
    assert.ok(mirror.after?.includes('verify-signature'));
  });

  test('the secondary region must be another region than aws-region', async () => {
    const read = await inputReader({
      service: 'svc',
      'aws-region-secondary': 'us-west-2',
      'ecr-registry-secondary': '515260921971.dkr.ecr.us-west-2.amazonaws.com',
    });
    assert.throws(
      () => readInputs(read),
      /input 'aws-region-secondary' is "us-west-2": is 'aws-region' itself/,
    );
  });
});
