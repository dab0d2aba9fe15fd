// The artifact in the test world: image checks, the immutable repository, the idempotent flux push and the
// pull-back. Signing is off here (its own suite); each test bakes its own service so the registry state is its own.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Parser, type ReadEntry } from 'tar';
import { useBakeWorld, why } from '../harness/bake-world.ts';
import { leakedSecrets } from '../harness/run-action.ts';
import { TARGETS } from '../world/index.ts';
import { getManifest } from '../world/oci.ts';

const SERVICES = [
  'sample-service',
  'two-missing',
  'late-image',
  'flaky-registry',
  'mutable-repo',
  'foreign-tag',
];

const fx = useBakeWorld(SERVICES);
const bake = (service: string, inputs: Record<string, string> = {}) =>
  fx.bake(service, { sign: 'false', ...inputs });

const registry = () => TARGETS.registry(fx.world.region);
const manifestPuts = () => fx.world.counters.get(registry(), 'manifest-put');
const blobUploads = () => fx.world.counters.get(registry(), 'blob-upload');

/** The artifact as the raw registry holds it: manifest, and the layer's files (read with the tar package). */
async function published(repository: string, tag: string) {
  const url = fx.world.registry(fx.world.region);
  const manifest = await getManifest(url, repository, tag);
  assert.ok(manifest, `${repository}:${tag} is in the registry`);
  const json = JSON.parse(manifest.body.toString('utf8')) as {
    config: { mediaType: string };
    layers: { mediaType: string; digest: string }[];
    annotations: Record<string, string>;
  };
  const layer = Buffer.from(
    await (await fetch(`${url}/v2/${repository}/blobs/${json.layers[0]?.digest}`)).arrayBuffer(),
  );
  const files = new Map<string, string>();
  await new Promise<void>((resolve, reject) => {
    const parser = new Parser({
      onReadEntry(entry: ReadEntry) {
        const chunks: Buffer[] = [];
        entry.on('data', (c: Buffer) => chunks.push(c));
        entry.on('end', () => {
          if (entry.type === 'File')
            files.set(entry.path.replace(/^\.\//, ''), Buffer.concat(chunks).toString());
        });
      },
    });
    parser.on('end', resolve);
    parser.on('error', reject);
    parser.end(layer);
  });
  return { digest: manifest.digest, mediaType: manifest.mediaType, json, files };
}

describe('the artifact', () => {
  let firstDigest = '';

  test('is pushed with Flux media types, the contract revision and source, and pulled back by digest', async () => {
    await fx.world.seedImage(fx.world.region, 'sample_service', '1.2.3');
    const result = await bake('sample-service', { images: 'sample_service' });
    assert.equal(result.code, 0, why(result));

    const artifact = await published('sample-service-manifests', '1.2.3');
    assert.equal(artifact.mediaType, 'application/vnd.oci.image.manifest.v1+json');
    assert.equal(artifact.json.config.mediaType, 'application/vnd.cncf.flux.config.v1+json');
    assert.deepEqual(
      artifact.json.layers.map((l) => l.mediaType),
      ['application/vnd.cncf.flux.content.v1.tar+gzip'],
    );
    assert.equal(
      artifact.json.annotations['org.opencontainers.image.revision'],
      `1.2.3@sha1:${fx.repo.tags.get('1.2.3')}`,
    );
    assert.equal(
      artifact.json.annotations['org.opencontainers.image.source'],
      `${fx.repo.serverUrl}/${fx.repo.repository}`,
    );
    assert.deepEqual([...artifact.files.keys()].sort(), [
      'configmap.yml',
      'deployment.yaml',
      'helmrelease.yaml',
      'kustomization.yaml',
    ]);
    assert.match(artifact.files.get('deployment.yaml') ?? '', /sample_service:1\.2\.3\n/);
    for (const text of artifact.files.values())
      assert.ok(!text.includes('${APP_PACKAGE_VERSION_TO_BE_REPLACED}'));

    assert.equal(result.outputs['digest'], artifact.digest);
    assert.equal(
      result.outputs['digest'],
      await fx.world.tagDigest(fx.world.region, 'sample-service-manifests', '1.2.3'),
    );
    assert.equal(
      result.outputs['artifact'],
      `${fx.world.registryHost}/sample-service-manifests@${artifact.digest}`,
    );
    assert.equal(result.outputs['reused'], 'false');
    assert.equal(manifestPuts(), 1);

    const [meta] = fx.world
      .repositories(fx.world.region)
      .filter((r) => r.name === 'sample-service-manifests');
    assert.equal(meta?.mutability, 'IMMUTABLE_WITH_EXCLUSION');
    assert.deepEqual(meta?.filters, [{ filterType: 'WILDCARD', filter: 'sha256-*' }]);

    assert.match(result.summary, /images verified<\/td><td><code>sample_service:1\.2\.3<\/code>/);
    assert.match(result.summary, /sample-service-manifests<\/code> created, IMMUTABLE_WITH_EXCLUSION/);
    assert.match(result.summary, /<td>push<\/td><td>pushed <code>sha256:/);
    assert.match(result.summary, /pulled back<\/td><td>4 files identical, by digest/);
    assert.deepEqual(leakedSecrets(result, [...fx.world.secrets(), result.githubToken]), []);
    firstDigest = artifact.digest;
  });

  test('a re-run after success reuses the digest and writes nothing', async () => {
    const result = await bake('sample-service', { images: 'sample_service' });
    assert.equal(result.code, 0, why(result));
    assert.equal(result.outputs['digest'], firstDigest);
    assert.equal(result.outputs['reused'], 'true');
    assert.equal(manifestPuts(), 0);
    assert.equal(blobUploads(), 0);
    assert.match(result.stdout, /already holds this exact bake/);
    assert.match(result.summary, /reused <code>sha256:/);
  });

  test('a run that loses the race to an identical bake (TAG_INVALID) reuses the winner', async () => {
    // The look-up before pushing misses the tag, as it would when another run writes it a moment later.
    const miss = fx.world.faults.inject({
      target: registry(),
      kind: 'manifest-get',
      fault: 'error',
      status: 404,
      code: 'MANIFEST_UNKNOWN',
      count: 1,
    });
    const result = await bake('sample-service');
    assert.equal(result.code, 0, why(result));
    assert.equal(miss.hits, 1);
    assert.equal(result.outputs['digest'], firstDigest);
    assert.equal(result.outputs['reused'], 'true');
    assert.match(result.stdout, /TAG_INVALID/);
    assert.match(result.stdout, /published by another run meanwhile/);
    assert.equal(await fx.world.tagDigest(fx.world.region, 'sample-service-manifests', '1.2.3'), firstDigest);
  });

  test('the tag moved to different content: refused, nothing overwritten, the delete command given', async () => {
    await fx.repo.commit({
      'kustomization/deployment.yaml': 'kind: Deployment\nimage: app:${APP_PACKAGE_VERSION_TO_BE_REPLACED}\n',
    });
    const moved = await fx.repo.tag('1.2.3', { annotated: true, force: true });
    const result = await bake('sample-service');
    assert.equal(result.code, 1, why(result));
    const failure = result.failure ?? '';
    assert.match(
      failure,
      /^push: \S+sample-service-manifests:1\.2\.3 already exists \(sha256:[0-9a-f]{64}\) with different content/,
    );
    assert.ok(failure.includes(`this run's is 1.2.3@sha1:${moved}`), failure);
    assert.match(failure, /deployment\.yaml differs from line 1/);
    assert.match(failure, /extra\.yaml is in this bake but not in the tag/);
    assert.ok(
      failure.includes(
        'aws ecr batch-delete-image --region us-west-2 --repository-name sample-service-manifests --image-ids imageTag=1.2.3',
      ),
      failure,
    );
    assert.equal(manifestPuts(), 0);
    assert.equal(await fx.world.tagDigest(fx.world.region, 'sample-service-manifests', '1.2.3'), firstDigest);
    assert.equal(result.outputs['digest'], undefined);
  });
});

describe('a tag that holds something else', () => {
  test('a container image under the version tag is refused, naming how it is not a Flux artifact', async () => {
    fx.world.createRepository(fx.world.region, 'foreign-tag-manifests', 'IMMUTABLE_WITH_EXCLUSION', [
      'sha256-*',
    ]);
    const image = await fx.world.seedImage(fx.world.region, 'foreign-tag-manifests', '1.2.3');
    const result = await bake('foreign-tag');
    assert.equal(result.code, 1, why(result));
    const failure = result.failure ?? '';
    assert.ok(
      failure.startsWith(
        `push: ${fx.world.registryHost}/foreign-tag-manifests:1.2.3 already exists (${image.digest})`,
      ),
      failure,
    );
    assert.match(
      failure,
      /its config is application\/vnd\.oci\.image\.config\.v1\+json, not application\/vnd\.cncf\.flux\.config\.v1\+json/,
    );
    assert.match(
      failure,
      /batch-delete-image --region us-west-2 --repository-name foreign-tag-manifests --image-ids imageTag=1\.2\.3/,
    );
    assert.equal(manifestPuts(), 0);
    assert.equal(await fx.world.tagDigest(fx.world.region, 'foreign-tag-manifests', '1.2.3'), image.digest);
  });
});

describe('before anything is pushed', () => {
  test('every missing image is named in one error, and nothing is pushed', async () => {
    await fx.world.seedImage(fx.world.region, 'present_image', '1.2.3');
    await fx.world.seedImage(fx.world.region, 'other_tag_only', '0.0.1');
    const result = await bake('two-missing', { images: 'present_image,other_tag_only\nno_such_repo' });
    assert.equal(result.code, 1, why(result));
    const failure = result.failure ?? '';
    assert.match(failure, /^images: 2 of 3 images are not in ECR us-west-2: /);
    assert.match(failure, /other_tag_only:1\.2\.3 \(no such tag\)/);
    assert.match(failure, /no_such_repo:1\.2\.3 \(no repository no_such_repo\)/);
    assert.doesNotMatch(failure, /present_image/);
    assert.match(failure, / — push them with tag 1\.2\.3 before baking/);
    assert.equal(manifestPuts(), 0);
    assert.equal(blobUploads(), 0);
    assert.equal(await fx.world.tagDigest(fx.world.region, 'two-missing-manifests', '1.2.3'), undefined);
  });

  test('wait-for-images keeps looking until the image appears', async () => {
    // Seeded once the action has looked twice: by then it has certainly found it missing and is waiting.
    const seeding = (async () => {
      const until = Date.now() + 60_000;
      while (fx.world.counters.get(TARGETS.ecr, 'DescribeImages') < 2 && Date.now() < until) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      await fx.world.seedImage(fx.world.region, 'late_image', '1.2.3');
    })();
    const result = await bake('late-image', { images: 'late_image', 'wait-for-images': '60' });
    await seeding;
    assert.equal(result.code, 0, why(result));
    assert.match(result.stdout, /waiting for late_image:1\.2\.3: next look in \d+ s, \d+ s left/);
    assert.match(result.stdout, /✔ late_image:1\.2\.3 sha256:/);
    assert.ok(fx.world.counters.get(TARGETS.ecr, 'DescribeImages') >= 2);
    assert.match(result.outputs['digest'] ?? '', /^sha256:[0-9a-f]{64}$/);
  });

  test('throttled ECR calls and registry reads answering 503 are retried', async () => {
    const throttled = fx.world.faults.inject({
      target: TARGETS.ecr,
      kind: 'DescribeRepositories',
      fault: 'throttle',
      count: 2,
    });
    const unavailable = fx.world.faults.inject({
      target: registry(),
      kind: 'manifest-get',
      fault: '5xx',
      count: 2,
    });
    const result = await bake('flaky-registry');
    assert.equal(result.code, 0, why(result));
    assert.equal(throttled.hits, 2);
    assert.equal(unavailable.hits, 2);
    assert.match(result.stdout, /answered HTTP 503: UNAVAILABLE.*attempt 2 in \d+ ms/);
    assert.equal(
      result.outputs['digest'],
      await fx.world.tagDigest(fx.world.region, 'flaky-registry-manifests', '1.2.3'),
    );
  });

  test('a pre-existing MUTABLE repository is refused with the command that fixes it', async () => {
    fx.world.createRepository(fx.world.region, 'mutable-repo-manifests', 'MUTABLE');
    const result = await bake('mutable-repo');
    assert.equal(result.code, 1, why(result));
    assert.match(
      result.failure ?? '',
      /^repository: repository mutable-repo-manifests is MUTABLE: its tag 1\.2\.3 could be overwritten.* — make it immutable \(signature tags stay writable\): aws ecr put-image-tag-mutability --region us-west-2 --repository-name mutable-repo-manifests --image-tag-mutability IMMUTABLE_WITH_EXCLUSION/,
    );
    assert.equal(manifestPuts(), 0);
    assert.equal(await fx.world.tagDigest(fx.world.region, 'mutable-repo-manifests', '1.2.3'), undefined);
  });
});
