// Self-tests of the test world: the real AWS SDK clients and plain HTTPS against the emulated servers.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Agent } from 'node:https';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import {
  BatchDeleteImageCommand,
  BatchGetImageCommand,
  CreateRepositoryCommand,
  DescribeImagesCommand,
  DescribeRepositoriesCommand,
  ECRClient,
  GetAuthorizationTokenCommand,
  ImageNotFoundException,
  InvalidParameterException,
  RepositoryAlreadyExistsException,
  RepositoryNotFoundException,
  ServerException,
} from '@aws-sdk/client-ecr';
import {
  AssumeRoleWithWebIdentityCommand,
  ExpiredTokenException,
  IDPCommunicationErrorException,
  InvalidIdentityTokenException,
  STSClient,
  type STSServiceException,
} from '@aws-sdk/client-sts';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { decodeJwt } from 'jose';
import { httpsCall, type Reply } from './https-client.ts';
import { liveRegistryPids, sampleJoinBody, startWorld, TELEPORT_JOIN_AUDIENCE, type World } from './index.ts';
import { MEDIA, sha256 } from './oci.ts';

/** One HTTPS request trusting the world's CA. */
const call = (
  ca: Buffer,
  url: string,
  init: {
    method?: string;
    headers?: Record<string, string>;
    body?: Buffer | string;
    timeoutMs?: number;
  } = {},
): Promise<Reply> =>
  httpsCall(url, { method: init.method ?? 'GET', headers: init.headers, ca, agent: false }, init);

const json = (reply: Reply) => JSON.parse(reply.body.toString('utf8')) as Record<string, unknown>;

let world: World;
let ca: Buffer;
let handler: NodeHttpHandler;
let credentials: { accessKeyId: string; secretAccessKey: string; sessionToken: string };

const sts = (maxAttempts = 1) =>
  new STSClient({ region: 'us-west-2', endpoint: world.stsEndpoint, requestHandler: handler, maxAttempts });
const ecr = (maxAttempts = 1, region = 'us-west-2') =>
  new ECRClient({ region, endpoint: world.ecrEndpoint, requestHandler: handler, credentials, maxAttempts });

/** The tbot path: GitHub OIDC token for Teleport, then a JWT SVID from the join endpoint. */
async function svidViaJoin(extra: Record<string, unknown> = {}): Promise<Reply> {
  const oidc = await call(ca, `${world.oidc.requestUrl}&audience=${TELEPORT_JOIN_AUDIENCE}`, {
    headers: { authorization: `Bearer ${world.oidc.requestToken}` },
  });
  assert.equal(oidc.status, 200);
  const idToken = json(oidc)['value'] as string;
  return call(ca, `https://${world.teleportFqdn}/webapi/standin/join`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: sampleJoinBody(idToken, extra),
  });
}

async function assume(token: string, roleArn = world.roleArn, client = sts()) {
  return client.send(
    new AssumeRoleWithWebIdentityCommand({
      RoleArn: roleArn,
      RoleSessionName: 'bake-test',
      WebIdentityToken: token,
    }),
  );
}

async function basicAuth(): Promise<string> {
  const out = await ecr().send(new GetAuthorizationTokenCommand({}));
  return `Basic ${out.authorizationData?.[0]?.authorizationToken}`;
}

/** Pushes config+layer blobs and returns an OCI manifest referencing them (through the front, with auth). */
async function pushBlobsThroughFront(auth: string, repo: string, seed: string): Promise<Buffer> {
  const base = `https://${world.registryHost}`;
  const descriptors = [];
  for (const [mediaType, data] of [
    [MEDIA.ociConfig, Buffer.from(JSON.stringify({ seed }))],
    [MEDIA.ociLayerGzip, Buffer.from(`layer ${seed}`)],
  ] as const) {
    const start = await call(ca, `${base}/v2/${repo}/blobs/uploads/`, {
      method: 'POST',
      headers: { authorization: auth },
    });
    assert.equal(start.status, 202, start.body.toString());
    const location = new URL(String(start.headers.location), base);
    assert.equal(location.host, world.registryHost, 'upload Location points back at the front');
    location.searchParams.set('digest', sha256(data));
    const put = await call(ca, location.href, {
      method: 'PUT',
      headers: {
        authorization: auth,
        'content-type': 'application/octet-stream',
        'content-length': String(data.length),
      },
      body: data,
    });
    assert.equal(put.status, 201, put.body.toString());
    descriptors.push({ mediaType, digest: sha256(data), size: data.length });
  }
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA.ociManifest,
      config: descriptors[0],
      layers: [descriptors[1]],
    }),
  );
}

const putManifest = (auth: string, repo: string, ref: string, body: Buffer) =>
  call(ca, `https://${world.registryHost}/v2/${repo}/manifests/${ref}`, {
    method: 'PUT',
    headers: { authorization: auth, 'content-type': MEDIA.ociManifest },
    body,
  });

before(async () => {
  world = await startWorld({ secondary: 'eu-central-1' });
  ca = readFileSync(world.caFile);
  handler = new NodeHttpHandler({ httpsAgent: new Agent({ ca }) });
  const join = await svidViaJoin();
  assert.equal(join.status, 200, join.body.toString());
  const out = await assume(json(join)['jwt'] as string);
  credentials = {
    accessKeyId: out.Credentials?.AccessKeyId ?? '',
    secretAccessKey: out.Credentials?.SecretAccessKey ?? '',
    sessionToken: out.Credentials?.SessionToken ?? '',
  };
});

after(async () => {
  await world?.stop();
  handler?.destroy();
});

describe('teleport, oidc, sts', () => {
  test('find reports versions; join mints an SVID STS accepts', async () => {
    const find = json(await call(ca, `https://${world.teleportFqdn}/webapi/find`));
    assert.equal(find['server_version'], '17.99.0');
    assert.deepEqual((find['auto_update'] as Record<string, unknown>)['tools_version'], '17.99.0');
    const join = await svidViaJoin();
    const jwt = json(join)['jwt'] as string;
    const claims = decodeJwt(jwt);
    assert.equal(claims.iss, `https://${world.teleportFqdn}`);
    assert.deepEqual(claims.aud, ['sts.amazonaws.com']);
    assert.match(String(claims.sub), /^spiffe:\/\/teleport\.maestra\.io\/bot\//);
    const out = await assume(jwt);
    assert.match(out.Credentials?.AccessKeyId ?? '', /^ASIA[A-Z2-7]{16}$/);
    assert.ok(
      out.Credentials?.Expiration instanceof Date && out.Credentials.Expiration.getTime() > Date.now(),
    );
    assert.equal(
      out.AssumedRoleUser?.Arn,
      'arn:aws:sts::515260921971:assumed-role/teleport-image-push/bake-test',
    );
    assert.equal(out.Audience, 'sts.amazonaws.com');
    assert.ok(world.secrets().includes(jwt) && world.secrets().includes(out.Credentials?.SessionToken ?? ''));
  });

  test('oidc needs the bearer token and carries the GitHub claims', async () => {
    const denied = await call(ca, `${world.oidc.requestUrl}&audience=sigstore`);
    assert.equal(denied.status, 401);
    const ok = await call(ca, `${world.oidc.requestUrl}&audience=sigstore`, {
      headers: { authorization: `Bearer ${world.oidc.requestToken}` },
    });
    const claims = decodeJwt(json(ok)['value'] as string);
    assert.equal(claims.iss, 'https://token.actions.githubusercontent.com');
    assert.equal(claims.aud, 'sigstore');
    assert.equal(
      claims['job_workflow_ref'],
      'maestra-io/sample-service/.github/workflows/release.yml@refs/tags/1.2.3',
    );
    assert.equal(claims.sub, 'repo:maestra-io/sample-service:ref:refs/tags/1.2.3');
  });

  test('join refuses unknown tokens, selectors and bad ID tokens, and honours exp_offset/audiences', async () => {
    const badToken = await svidViaJoin({ token: 'image-push-github-actions-other' });
    assert.equal(badToken.status, 403);
    assert.match(String((json(badToken)['error'] as { message: string }).message), /other/);
    assert.equal((await svidViaJoin({ workload_identity: 'nope' })).status, 403);
    assert.equal((await svidViaJoin({ id_token: await world.oidc.mint('sigstore') })).status, 403);
    const expired = decodeJwt(json(await svidViaJoin({ exp_offset_seconds: -60 }))['jwt'] as string);
    assert.ok((expired.exp ?? 0) < Date.now() / 1000);
    const wrongAud = decodeJwt(json(await svidViaJoin({ audiences: ['other'] }))['jwt'] as string);
    assert.deepEqual(wrongAud.aud, ['other']);
  });

  test('STS errors are typed by the SDK', async () => {
    await assert.rejects(assume(await world.teleport.mintSvid(['other'])), InvalidIdentityTokenException);
    await assert.rejects(
      assume(await world.teleport.mintSvid(['sts.amazonaws.com'], -30)),
      ExpiredTokenException,
    );
    await assert.rejects(assume(await world.oidc.mint('sts.amazonaws.com')), InvalidIdentityTokenException);
    const good = await world.teleport.mintSvid(['sts.amazonaws.com']);
    await assert.rejects(assume(good, 'arn:aws:iam::515260921971:role/other'), (e: STSServiceException) => {
      assert.equal(e.name, 'AccessDenied');
      assert.equal(e.$metadata.httpStatusCode, 403);
      assert.match(e.message, /Not authorized to perform sts:AssumeRoleWithWebIdentity/);
      return true;
    });
    await assert.rejects(
      sts().send(
        new AssumeRoleWithWebIdentityCommand({
          RoleArn: world.roleArn,
          RoleSessionName: 'x',
          WebIdentityToken: good,
        }),
      ),
      (e: STSServiceException) => e.name === 'ValidationError',
    );
  });

  test('STS IDPCommunicationError twice, then success', async () => {
    world.faults.inject({ target: 'sts', fault: 'error', code: 'IDPCommunicationError', count: 2 });
    const token = await world.teleport.mintSvid(['sts.amazonaws.com']);
    await assert.rejects(assume(token), IDPCommunicationErrorException);
    await assert.rejects(assume(token), IDPCommunicationErrorException);
    await assume(token);
  });
});

describe('ecr api and registry front', () => {
  const repo = 'sample-service-manifests';

  test('CreateRepository / DescribeRepositories with exclusion filters and typed errors', async () => {
    const created = await ecr().send(
      new CreateRepositoryCommand({
        repositoryName: repo,
        imageTagMutability: 'IMMUTABLE_WITH_EXCLUSION',
        imageTagMutabilityExclusionFilters: [{ filterType: 'WILDCARD', filter: 'sha256-*' }],
      }),
    );
    assert.equal(created.repository?.repositoryUri, `${world.registryHost}/${repo}`);
    assert.ok(created.repository?.createdAt instanceof Date);
    await assert.rejects(
      ecr().send(new CreateRepositoryCommand({ repositoryName: repo })),
      RepositoryAlreadyExistsException,
    );
    await assert.rejects(
      ecr().send(
        new CreateRepositoryCommand({ repositoryName: 'x2', imageTagMutability: 'IMMUTABLE_WITH_EXCLUSION' }),
      ),
      InvalidParameterException,
    );
    await assert.rejects(
      ecr().send(new DescribeRepositoriesCommand({ repositoryNames: ['never-created'] })),
      RepositoryNotFoundException,
    );
    const described = await ecr().send(new DescribeRepositoriesCommand({ repositoryNames: [repo] }));
    assert.equal(described.repositories?.[0]?.imageTagMutability, 'IMMUTABLE_WITH_EXCLUSION');
    assert.deepEqual(described.repositories?.[0]?.imageTagMutabilityExclusionFilters, [
      { filterType: 'WILDCARD', filter: 'sha256-*' },
    ]);
    // The secondary region is a separate registry with its own repositories.
    await assert.rejects(
      ecr(1, 'eu-central-1').send(new DescribeRepositoriesCommand({ repositoryNames: [repo] })),
      RepositoryNotFoundException,
    );
  });

  test('unknown credentials and wrong secrets are refused', async () => {
    const stranger = new ECRClient({
      region: 'us-west-2',
      endpoint: world.ecrEndpoint,
      requestHandler: handler,
      maxAttempts: 1,
      credentials: { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'x' },
    });
    await assert.rejects(
      stranger.send(new GetAuthorizationTokenCommand({})),
      /security token included in the request is invalid/,
    );
    const wrongSecret = new ECRClient({
      region: 'us-west-2',
      endpoint: world.ecrEndpoint,
      requestHandler: handler,
      maxAttempts: 1,
      credentials: { ...credentials, secretAccessKey: 'wrong' },
    });
    await assert.rejects(
      wrongSecret.send(new GetAuthorizationTokenCommand({})),
      /signature we calculated does not match/,
    );
  });

  test('front: 401 without auth, NAME_UNKNOWN, push, TAG_INVALID, exclusion, S3 redirect', async () => {
    const base = `https://${world.registryHost}`;
    const ping = await call(ca, `${base}/v2/`);
    assert.equal(ping.status, 401);
    assert.match(String(ping.headers['www-authenticate']), /^Basic realm=/);
    const out = await ecr().send(new GetAuthorizationTokenCommand({}));
    const data = out.authorizationData?.[0];
    assert.equal(data?.proxyEndpoint, `https://${world.registryHost}`);
    assert.ok((data?.expiresAt?.getTime() ?? 0) > Date.now() + 11 * 3600 * 1000);
    assert.match(Buffer.from(data?.authorizationToken ?? '', 'base64').toString(), /^AWS:.+/);
    const auth = `Basic ${data?.authorizationToken}`;
    assert.equal((await call(ca, `${base}/v2/`, { headers: { authorization: auth } })).status, 200);
    assert.equal(
      (await call(ca, `${base}/v2/`, { headers: { authorization: 'Basic QVdTOm5vcGU=' } })).status,
      401,
    );

    const unknown = await call(ca, `${base}/v2/never-created/manifests/1.0.0`, {
      headers: { authorization: auth },
    });
    assert.equal(unknown.status, 404);
    assert.equal((json(unknown)['errors'] as { code: string }[])[0]?.code, 'NAME_UNKNOWN');

    const manifest = await pushBlobsThroughFront(auth, repo, 'one');
    const first = await putManifest(auth, repo, '1.2.3', manifest);
    assert.equal(first.status, 201, first.body.toString());
    assert.equal(first.headers['docker-content-digest'], sha256(manifest));
    const again = await putManifest(auth, repo, '1.2.3', manifest);
    assert.equal(again.status, 400);
    const error = (json(again)['errors'] as { code: string; message: string }[])[0];
    assert.equal(error?.code, 'TAG_INVALID');
    assert.match(
      error?.message ?? '',
      /already exists in the 'sample-service-manifests' repository and cannot be overwritten/,
    );
    assert.equal(
      (await putManifest(auth, repo, sha256(manifest), manifest)).status,
      201,
      'PUT by digest always allowed',
    );
    const sigTag = `${sha256(manifest).replace(':', '-')}.sig`;
    assert.equal((await putManifest(auth, repo, sigTag, manifest)).status, 201);
    assert.equal((await putManifest(auth, repo, sigTag, manifest)).status, 201, 'sha256-* is excluded');

    // Two pushes racing on one new immutable tag: exactly one wins, as in ECR.
    const other = await pushBlobsThroughFront(auth, repo, 'two');
    const race = await Promise.all([
      putManifest(auth, repo, '2.0.0', manifest),
      putManifest(auth, repo, '2.0.0', other),
    ]);
    assert.deepEqual(race.map((r) => r.status).sort(), [201, 400]);
    await ecr().send(
      new BatchDeleteImageCommand({ repositoryName: repo, imageIds: [{ imageTag: '2.0.0' }] }),
    );

    const got = await call(ca, `${base}/v2/${repo}/manifests/1.2.3`, {
      headers: { authorization: auth, accept: MEDIA.ociManifest },
    });
    assert.equal(got.status, 200);
    assert.deepEqual(got.body, manifest);
    assert.equal(got.headers['content-type'], MEDIA.ociManifest);

    const layer =
      (JSON.parse(manifest.toString()) as { layers: { digest: string }[] }).layers[0]?.digest ?? '';
    const blob = await call(ca, `${base}/v2/${repo}/blobs/${layer}`, { headers: { authorization: auth } });
    assert.equal(blob.status, 307);
    const s3 = new URL(String(blob.headers.location));
    assert.notEqual(
      s3.host,
      world.registryHost,
      'S3 is another origin, so clients drop the Authorization header',
    );
    assert.ok(s3.searchParams.get('X-Amz-Signature'));
    const fromS3 = await call(ca, s3.href);
    assert.equal(fromS3.status, 200);
    assert.equal(fromS3.body.toString(), 'layer one');
    assert.equal((await call(ca, s3.href, { headers: { authorization: auth } })).status, 400);
    assert.equal(
      (
        await call(ca, `${base}/v2/${repo}/blobs/${layer}`, {
          method: 'HEAD',
          headers: { authorization: auth },
        })
      ).status,
      200,
    );
  });

  test('DescribeImages / BatchGetImage agree with the registry; BatchDeleteImage deletes the tag', async () => {
    const digest = await world.tagDigest('us-west-2', repo, '1.2.3');
    assert.ok(digest);
    const described = await ecr().send(
      new DescribeImagesCommand({ repositoryName: repo, imageIds: [{ imageTag: '1.2.3' }] }),
    );
    const detail = described.imageDetails?.[0];
    assert.equal(detail?.imageDigest, digest);
    const sigTag = `${digest?.replace(':', '-')}.sig`;
    assert.deepEqual(
      detail?.imageTags,
      ['1.2.3', sigTag],
      'the .sig tag points at the same manifest in this test',
    );
    assert.equal(detail?.imageManifestMediaType, MEDIA.ociManifest);
    assert.ok(detail?.imagePushedAt instanceof Date);
    assert.ok((detail?.imageSizeInBytes ?? 0) > 0);
    await assert.rejects(
      ecr().send(new DescribeImagesCommand({ repositoryName: repo, imageIds: [{ imageTag: '9.9.9' }] })),
      ImageNotFoundException,
    );
    await assert.rejects(
      ecr().send(
        new DescribeImagesCommand({ repositoryName: 'never-created', imageIds: [{ imageTag: '1' }] }),
      ),
      RepositoryNotFoundException,
    );
    const all = await ecr().send(new DescribeImagesCommand({ repositoryName: repo }));
    assert.equal(all.imageDetails?.length, 1);

    const batch = await ecr().send(
      new BatchGetImageCommand({
        repositoryName: repo,
        imageIds: [
          { imageTag: '1.2.3' },
          { imageTag: '9.9.9' },
          { imageTag: '1.2.3', imageDigest: `sha256:${'0'.repeat(64)}` },
        ],
      }),
    );
    const registryManifest = await fetch(`${world.registry('us-west-2')}/v2/${repo}/manifests/1.2.3`, {
      headers: { accept: MEDIA.ociManifest },
    }).then((r) => r.text());
    assert.equal(batch.images?.[0]?.imageManifest, registryManifest);
    assert.equal(batch.images?.[0]?.imageId?.imageDigest, digest);
    assert.deepEqual(
      batch.failures?.map((f) => f.failureCode),
      ['ImageNotFound', 'ImageNotFound'],
    );

    const seeded = await world.seedImage('us-west-2', 'svc-image', '1.2.3');
    await world.seedImage('us-west-2', 'svc-image', '1.2.4');
    const mismatch = await ecr().send(
      new BatchGetImageCommand({
        repositoryName: 'svc-image',
        imageIds: [{ imageTag: '1.2.4', imageDigest: seeded.digest }],
      }),
    );
    assert.equal(mismatch.failures?.[0]?.failureCode, 'ImageTagDoesNotMatchDigest');
    const deleted = await ecr().send(
      new BatchDeleteImageCommand({ repositoryName: 'svc-image', imageIds: [{ imageTag: '1.2.3' }] }),
    );
    assert.deepEqual(deleted.imageIds, [{ imageDigest: seeded.digest, imageTag: '1.2.3' }]);
    assert.equal(await world.tagDigest('us-west-2', 'svc-image', '1.2.3'), undefined);
    assert.ok(await world.tagDigest('us-west-2', 'svc-image', '1.2.4'));
  });

  test('counters count per target and kind', async () => {
    world.counters.reset();
    await ecr().send(new DescribeRepositoriesCommand({}));
    await call(ca, `https://${world.registryHost}/v2/`);
    await call(ca, `https://${world.registryHost}/v2/${repo}/tags/list`, {
      headers: { authorization: await basicAuth() },
    });
    const snapshot = world.counters.snapshot();
    assert.deepEqual(snapshot['ecr'], { DescribeRepositories: 1, GetAuthorizationToken: 1 });
    assert.deepEqual(snapshot['registry:us-west-2'], { 'auth-fail': 1, 'tags-list': 1 });
    assert.equal(world.counters.get('ecr'), 2);
    assert.equal(world.counters.get('ecr', 'GetAuthorizationToken'), 1);
  });
});

describe('faults', () => {
  test('5xx and throttle are service-shaped; fail next N then succeed with SDK retries', async () => {
    world.faults.inject({ target: 'ecr', kind: 'DescribeRepositories', fault: '5xx' });
    await assert.rejects(ecr().send(new DescribeRepositoriesCommand({})), (e: ServerException) => {
      assert.ok(e instanceof ServerException);
      assert.equal(e.$metadata.httpStatusCode, 503);
      return true;
    });
    world.faults.inject({ target: 'ecr', kind: 'DescribeRepositories', fault: 'throttle' });
    await assert.rejects(
      ecr().send(new DescribeRepositoriesCommand({})),
      (e: Error) => e.name === 'ThrottlingException',
    );
    world.faults.inject({ target: 'sts', fault: 'throttle' });
    await assert.rejects(assume('x'), (e: Error) => e.name === 'Throttling');

    world.counters.reset();
    const fault = world.faults.inject({
      target: 'ecr',
      kind: 'DescribeRepositories',
      fault: '5xx',
      count: 2,
    });
    await ecr(3).send(new DescribeRepositoriesCommand({}));
    assert.equal(world.counters.get('ecr', 'DescribeRepositories'), 3);
    assert.equal(fault.hits, 2);
    assert.equal(fault.remaining, 0);

    world.faults.inject({ target: 'registry:us-west-2', kind: 'ping', fault: 'throttle' });
    const throttled = await call(ca, `https://${world.registryHost}/v2/`);
    assert.equal(throttled.status, 429);
    assert.equal((json(throttled)['errors'] as { code: string }[])[0]?.code, 'TOOMANYREQUESTS');
  });

  test('reset, delay and hang', async () => {
    world.faults.inject({ target: 'teleport', kind: 'find', fault: 'reset' });
    await assert.rejects(call(ca, `https://${world.teleportFqdn}/webapi/find`), /socket hang up|ECONNRESET/);

    world.faults.inject({ target: 'mirror', fault: 'delay', delayMs: 300 });
    const started = Date.now();
    assert.equal((await call(ca, `${world.mirrorUrl}/nothing-here`)).status, 404);
    assert.ok(Date.now() - started >= 290);

    world.faults.inject({ target: 'oidc', kind: 'token', fault: 'hang' });
    await assert.rejects(
      call(ca, `${world.oidc.requestUrl}&audience=x`, {
        headers: { authorization: `Bearer ${world.oidc.requestToken}` },
        timeoutMs: 300,
      }),
      /client timeout/,
    );
    assert.equal(world.faults.pending().length, 0);
  });
});

test('mirror serves published files under upstream paths, 404 otherwise', async () => {
  const w = await startWorld({ publishStandins: false });
  try {
    const wca = readFileSync(w.caFile);
    w.faults.inject({ target: 'mirror', fault: '5xx', urlIncludes: 'checksums' });
    const path = 'github.com/fluxcd/flux2/releases/download/v2.99.0/flux_2.99.0_checksums.txt';
    await w.mirror.publish(path, 'abc  flux_2.99.0_linux_amd64.tar.gz\n');
    assert.equal((await call(wca, `${w.mirrorUrl}/${path}`)).status, 503, 'urlIncludes matched');
    const ok = await call(wca, `${w.mirrorUrl}/${path}`);
    assert.equal(ok.status, 200);
    assert.match(ok.body.toString(), /flux_2\.99\.0_linux_amd64/);
    assert.equal((await call(wca, `${w.mirrorUrl}/../../etc/passwd`)).status, 404);
    assert.equal(w.counters.get('mirror', 'download'), 3);
  } finally {
    await w.stop();
  }
});

test('lying pull-through: reads answer from the other region, DescribeImages tells the truth', async () => {
  const w = await startWorld({ secondary: 'eu-central-1', lyingPullThrough: true, publishStandins: false });
  try {
    const wca = readFileSync(w.caFile);
    const h = new NodeHttpHandler({ httpsAgent: new Agent({ ca: wca }) });
    const seeded = await w.seedImage('us-west-2', 'app-manifests', '1.0.0');
    w.createRepository('eu-central-1', 'app-manifests', 'IMMUTABLE');
    const jwt = await w.teleport.mintSvid(['sts.amazonaws.com']);
    const out = await new STSClient({ region: 'us-west-2', endpoint: w.stsEndpoint, requestHandler: h }).send(
      new AssumeRoleWithWebIdentityCommand({
        RoleArn: w.roleArn,
        RoleSessionName: 'lie',
        WebIdentityToken: jwt,
      }),
    );
    const client = new ECRClient({
      region: 'eu-central-1',
      endpoint: w.ecrEndpoint,
      requestHandler: h,
      maxAttempts: 1,
      credentials: {
        accessKeyId: out.Credentials?.AccessKeyId ?? '',
        secretAccessKey: out.Credentials?.SecretAccessKey ?? '',
        sessionToken: out.Credentials?.SessionToken ?? '',
      },
    });
    const token = (await client.send(new GetAuthorizationTokenCommand({}))).authorizationData?.[0]
      ?.authorizationToken;
    const head = await call(wca, `https://${w.secondaryRegistryHost}/v2/app-manifests/manifests/1.0.0`, {
      method: 'HEAD',
      headers: { authorization: `Basic ${token}`, accept: MEDIA.ociManifest },
    });
    assert.equal(head.status, 200);
    assert.equal(head.headers['docker-content-digest'], seeded.digest);
    await assert.rejects(
      client.send(
        new DescribeImagesCommand({ repositoryName: 'app-manifests', imageIds: [{ imageTag: '1.0.0' }] }),
      ),
      ImageNotFoundException,
    );
    assert.equal(w.counters.get('ecr-secondary', 'DescribeImages'), 1);
    h.destroy();
  } finally {
    await w.stop();
  }
});

test('stop() leaves no listening port and no registry process', async () => {
  const before = liveRegistryPids();
  const w = await startWorld({ secondary: 'eu-central-1', publishStandins: false });
  const ports = [
    w.registryHost,
    w.secondaryRegistryHost ?? '',
    w.teleportFqdn,
    new URL(w.mirrorUrl).host,
    new URL(w.ecrEndpoint).host,
    new URL(w.stsEndpoint).host,
    new URL(w.oidc.requestUrl).host,
    new URL(w.registry('us-west-2')).host,
    new URL(w.registry('eu-central-1')).host,
  ].map((host) => Number(host.split(':')[1]));
  const pids = liveRegistryPids().filter((pid) => !before.includes(pid));
  assert.equal(pids.length, 2);
  // A hung request must not keep stop() waiting.
  w.faults.inject({ target: 'teleport', fault: 'hang' });
  const hung = call(readFileSync(w.caFile), `https://${w.teleportFqdn}/webapi/find`).catch((e: Error) => e);
  await new Promise((r) => setTimeout(r, 50));
  await w.stop();
  await w.stop();
  assert.ok((await hung) instanceof Error);
  for (const port of ports) {
    const refused = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(false);
      });
      socket.once('error', () => resolve(true));
    });
    assert.ok(refused, `port ${port} still listening`);
  }
  for (const pid of pids) {
    assert.throws(() => process.kill(pid, 0), /ESRCH/, `registry pid ${pid} survived`);
  }
});
