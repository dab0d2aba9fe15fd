// The secondary-region mirror with two ECR fronts: the copy by digest, the re-run that writes nothing, a tag
// taken there by other content, the signature following the artifact, and a secondary front whose reads lie.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { useBakeWorld, why } from '../harness/bake-world.ts';
import { leakedSecrets, type RunResult } from '../harness/run-action.ts';
import { sigTag } from '../support/signing.ts';
import { SECONDARY_REGION, TARGETS, type World } from '../world/index.ts';
import { blobExists, getManifest } from '../world/oci.ts';

const mirrorInputs = (world: World) => ({
  'aws-region-secondary': SECONDARY_REGION,
  'ecr-registry-secondary': world.secondaryRegistryHost ?? '',
});

/** Writes that reached the secondary registry: manifest PUTs and blob uploads (POST and PUT of each). */
const secondaryWrites = (world: World) => ({
  manifests: world.counters.get(TARGETS.registry(SECONDARY_REGION), 'manifest-put'),
  uploads: world.counters.get(TARGETS.registry(SECONDARY_REGION), 'blob-upload'),
});

/** What both regions store under the tag, read from the raw registries (no ECR front, no pull-through). */
async function bothRegions(world: World, repository: string, tag: string) {
  return {
    primary: await world.tagDigest(world.region, repository, tag),
    secondary: await world.tagDigest(SECONDARY_REGION, repository, tag),
  };
}

/** Every blob and the manifest of `digest`, checked in the secondary's raw registry; returns how many blobs. */
async function storedInSecondary(world: World, repository: string, digest: string): Promise<number> {
  const raw = world.registry(SECONDARY_REGION);
  const manifest = await getManifest(raw, repository, digest);
  assert.ok(manifest, `${repository}@${digest} is stored in ${SECONDARY_REGION}`);
  const json = JSON.parse(manifest.body.toString('utf8')) as {
    config: { digest: string };
    layers: { digest: string }[];
  };
  const blobs = [json.config.digest, ...json.layers.map((l) => l.digest)];
  for (const blob of blobs) {
    assert.ok(await blobExists(raw, repository, blob), `blob ${blob} is stored in ${SECONDARY_REGION}`);
  }
  return blobs.length;
}

const mirrorFact = (result: RunResult) => /<td>mirror<\/td><td>(.*?)<\/td>/s.exec(result.summary)?.[1] ?? '';

describe('the mirror', () => {
  const fx = useBakeWorld(['mirrored', 'mirror-taken', 'mirror-later', 'mirror-flaky'], {
    secondary: SECONDARY_REGION,
  });
  const bake = (service: string, inputs: Record<string, string> = {}) =>
    fx.bake(service, { ...mirrorInputs(fx.world), ...inputs });

  test('copies the verified digest and its signature: both regions store the same digest under the tag', async () => {
    const { world } = fx;
    const result = await bake('mirrored');
    assert.equal(result.code, 0, why(result));
    const digest = result.outputs['digest'] ?? '';
    assert.match(digest, /^sha256:[0-9a-f]{64}$/);
    assert.deepEqual(await bothRegions(world, 'mirrored-manifests', '1.2.3'), {
      primary: digest,
      secondary: digest,
    });
    assert.equal(await storedInSecondary(world, 'mirrored-manifests', digest), 2);
    const signature = await bothRegions(world, 'mirrored-manifests', sigTag(digest));
    assert.ok(signature.primary, 'the primary holds the signature');
    assert.equal(signature.secondary, signature.primary, 'the signature tag is mirrored as it is');
    await storedInSecondary(world, 'mirrored-manifests', signature.primary);

    // Outputs are the primary's, as without a mirror.
    assert.deepEqual(Object.keys(result.outputs).sort(), ['artifact', 'digest', 'reused', 'version']);
    assert.equal(result.outputs['artifact'], `${world.registryHost}/mirrored-manifests@${digest}`);
    const [meta] = world.repositories(SECONDARY_REGION).filter((r) => r.name === 'mirrored-manifests');
    assert.equal(meta?.mutability, 'IMMUTABLE_WITH_EXCLUSION');
    assert.deepEqual(meta?.filters, [{ filterType: 'WILDCARD', filter: 'sha256-*' }]);
    assert.equal(world.counters.get(TARGETS.ecrSecondary, 'GetAuthorizationToken'), 1);
    assert.match(
      mirrorFact(result),
      /^copied to <code>\S+\/mirrored-manifests:1\.2\.3<\/code> \(eu-central-1\): 2 blobs and the manifest copied, signature copied$/,
    );
    assert.match(
      result.stdout,
      /✔ us-west-2 and eu-central-1 both store sha256:[0-9a-f]{64} under mirrored-manifests:1\.2\.3/,
    );
    assert.deepEqual(leakedSecrets(result, [...world.secrets(), result.githubToken]), []);
  });

  test('a re-run finds it mirrored and writes nothing to the secondary region', async () => {
    const { world } = fx;
    const before = await bothRegions(world, 'mirrored-manifests', '1.2.3');
    const result = await bake('mirrored');
    assert.equal(result.code, 0, why(result));
    assert.equal(result.outputs['reused'], 'true');
    assert.equal(result.outputs['digest'], before.primary);
    assert.deepEqual(secondaryWrites(world), { manifests: 0, uploads: 0 });
    assert.equal(world.counters.get(TARGETS.ecrSecondary, 'GetAuthorizationToken'), 0);
    assert.equal(world.counters.get(TARGETS.ecrSecondary, 'CreateRepository'), 0);
    assert.match(
      mirrorFact(result),
      /^already mirrored: <code>\S+\/mirrored-manifests:1\.2\.3<\/code> \(eu-central-1\) holds this digest$/,
    );
    assert.match(result.stdout, /already holds sha256:[0-9a-f]{64} and its signature; nothing written/);
    assert.deepEqual(await bothRegions(world, 'mirrored-manifests', '1.2.3'), before);
  });

  test('a secondary tag holding another digest fails with the delete command, and nothing is overwritten', async () => {
    const { world } = fx;
    world.createRepository(SECONDARY_REGION, 'mirror-taken-manifests', 'IMMUTABLE_WITH_EXCLUSION', [
      'sha256-*',
    ]);
    const other = await world.seedImage(SECONDARY_REGION, 'mirror-taken-manifests', '1.2.3');
    const result = await bake('mirror-taken', { sign: 'false' });
    assert.equal(result.code, 1, why(result));
    const baked = result.outputs['digest'] ?? '';
    assert.equal(await world.tagDigest(world.region, 'mirror-taken-manifests', '1.2.3'), baked);
    const failure = result.failure ?? '';
    assert.ok(
      failure.startsWith(
        `mirror: ${world.secondaryRegistryHost}/mirror-taken-manifests:1.2.3 (eu-central-1) already holds ${other.digest}, not ${baked}; nothing overwritten`,
      ),
      failure,
    );
    assert.ok(
      failure.includes(
        'aws ecr batch-delete-image --region eu-central-1 --repository-name mirror-taken-manifests --image-ids imageTag=1.2.3',
      ),
      failure,
    );
    assert.deepEqual(secondaryWrites(world), { manifests: 0, uploads: 0 });
    assert.equal(await world.tagDigest(SECONDARY_REGION, 'mirror-taken-manifests', '1.2.3'), other.digest);
  });

  test('a signature made after the artifact was mirrored follows it on the next run', async () => {
    const { world } = fx;
    const first = await bake('mirror-later', { sign: 'false' });
    assert.equal(first.code, 0, why(first));
    const digest = first.outputs['digest'] ?? '';
    assert.equal(
      await world.tagDigest(SECONDARY_REGION, 'mirror-later-manifests', sigTag(digest)),
      undefined,
    );

    world.counters.reset();
    const second = await bake('mirror-later');
    assert.equal(second.code, 0, why(second));
    const signature = await bothRegions(world, 'mirror-later-manifests', sigTag(digest));
    assert.ok(signature.primary, 'the second run signed in the primary');
    assert.equal(signature.secondary, signature.primary);
    assert.equal(await world.tagDigest(SECONDARY_REGION, 'mirror-later-manifests', '1.2.3'), digest);
    // The signature manifest went by digest and by tag; the artifact was left alone.
    assert.equal(secondaryWrites(world).manifests, 2);
    assert.match(mirrorFact(second), /: artifact already there, signature copied$/);
  });
  test('a failed blob PUT and a throttled DescribeImages in the secondary region are retried', async () => {
    const { world } = fx;
    // The PUT that carries the bytes (it has ?digest=): the upload is opened again, not the PUT re-sent.
    const put = world.faults.inject({
      target: TARGETS.registry(SECONDARY_REGION),
      kind: 'blob-upload',
      urlIncludes: 'digest=',
      fault: '5xx',
    });
    const throttled = world.faults.inject({
      target: TARGETS.ecrSecondary,
      kind: 'DescribeImages',
      fault: 'throttle',
    });
    const result = await bake('mirror-flaky', { sign: 'false' });
    assert.equal(result.code, 0, why(result));
    assert.equal(put.hits, 1);
    assert.equal(throttled.hits, 1);
    assert.match(
      result.stdout,
      /upload of sha256:[0-9a-f]{64} to \S+ failed \(PUT \S+ answered HTTP 503: UNAVAILABLE.*\); attempt 2 in \d+ ms/,
    );
    const digest = result.outputs['digest'] ?? '';
    assert.equal(await world.tagDigest(SECONDARY_REGION, 'mirror-flaky-manifests', '1.2.3'), digest);
    assert.equal(await storedInSecondary(world, 'mirror-flaky-manifests', digest), 2);
  });
});

describe('the mirror behind a lying pull-through cache', () => {
  const fx = useBakeWorld(['mirror-lied-to'], { secondary: SECONDARY_REGION, lyingPullThrough: true });

  test('every blob and manifest ends up really stored, although the secondary answers reads for them', async () => {
    const { world } = fx;
    const result = await fx.bake('mirror-lied-to', mirrorInputs(world));
    assert.equal(result.code, 0, why(result));
    const digest = result.outputs['digest'] ?? '';
    // Nothing was asked of the secondary registry: a read there would have been answered from the primary.
    for (const read of ['manifest-get', 'manifest-head', 'blob-get', 'blob-head']) {
      assert.equal(world.counters.get(TARGETS.registry(SECONDARY_REGION), read), 0, read);
    }
    assert.deepEqual(await bothRegions(world, 'mirror-lied-to-manifests', '1.2.3'), {
      primary: digest,
      secondary: digest,
    });
    const artifactBlobs = await storedInSecondary(world, 'mirror-lied-to-manifests', digest);
    const signature = await bothRegions(world, 'mirror-lied-to-manifests', sigTag(digest));
    assert.ok(signature.primary);
    assert.equal(signature.secondary, signature.primary);
    const signatureBlobs = await storedInSecondary(world, 'mirror-lied-to-manifests', signature.primary);
    // Each blob was uploaded (POST + PUT), never skipped on the front's word.
    assert.equal(secondaryWrites(world).uploads, 2 * (artifactBlobs + signatureBlobs));
  });
});
