// The ECR emulator against the real @aws-sdk/client-ecr and client-sts: registries per (account, region), credential expiry.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Agent } from 'node:https';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CreateRepositoryCommand,
  DescribeImagesCommand,
  DescribeRepositoriesCommand,
  ECRClient,
  type ECRServiceException,
  GetAuthorizationTokenCommand,
  type GetAuthorizationTokenCommandOutput,
  InvalidParameterException,
  RepositoryNotFoundException,
} from '@aws-sdk/client-ecr';
import {
  AssumeRoleWithWebIdentityCommand,
  GetCallerIdentityCommand,
  STSClient,
  type STSServiceException,
} from '@aws-sdk/client-sts';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { decodeJwt } from 'jose';
import { httpsCall, type Reply } from '../https-client.ts';
import {
  DEFAULT_ACCOUNT,
  sampleJoinBody,
  startWorld,
  TARGETS,
  TELEPORT_JOIN_AUDIENCE,
  type World,
} from '../index.ts';
import { MEDIA } from '../oci.ts';

const OTHER = '111111111111';
const UNKNOWN = '999999999999';
const SECONDARY = 'eu-central-1';

const call = (ca: Buffer, url: string, headers: Record<string, string> = {}, method = 'GET') =>
  httpsCall(url, { method, headers, ca, agent: false });

const registryErrors = (reply: Reply) =>
  (JSON.parse(reply.body.toString('utf8')) as { errors: { code: string; message: string }[] }).errors;

type Credentials = { accessKeyId: string; secretAccessKey: string; sessionToken: string; expiration?: Date };

/** Credentials of one world: a JWT SVID from its Teleport, exchanged at its STS. */
async function assumeIn(w: World, handler: NodeHttpHandler, session = 'ecr-test'): Promise<Credentials> {
  const sts = new STSClient({
    region: 'us-west-2',
    endpoint: w.stsEndpoint,
    requestHandler: handler,
    maxAttempts: 1,
  });
  const out = await sts.send(
    new AssumeRoleWithWebIdentityCommand({
      RoleArn: w.roleArn,
      RoleSessionName: session,
      WebIdentityToken: await w.teleport.mintSvid(['sts.amazonaws.com']),
    }),
  );
  return {
    accessKeyId: out.Credentials?.AccessKeyId ?? '',
    secretAccessKey: out.Credentials?.SecretAccessKey ?? '',
    sessionToken: out.Credentials?.SessionToken ?? '',
    ...(out.Credentials?.Expiration ? { expiration: out.Credentials.Expiration } : {}),
  };
}

/** Waits until `when` has passed (credentials and tokens are checked against the wall clock). */
const until = (when: Date | undefined) => sleep(Math.max(0, (when?.getTime() ?? 0) - Date.now()) + 50);

const ecrIn = (w: World, handler: NodeHttpHandler, credentials: Credentials, region = 'us-west-2') =>
  new ECRClient({ region, endpoint: w.ecrEndpoint, requestHandler: handler, credentials, maxAttempts: 1 });

let world: World;
let ca: Buffer;
let handler: NodeHttpHandler;
let credentials: Credentials;
const ecr = (region = 'us-west-2') => ecrIn(world, handler, credentials, region);

before(async () => {
  world = await startWorld({ secondary: SECONDARY, accounts: [OTHER], publishStandins: false });
  ca = readFileSync(world.caFile);
  handler = new NodeHttpHandler({ httpsAgent: new Agent({ ca }) });
  credentials = await assumeIn(world, handler);
});

after(async () => {
  await world?.stop();
  handler?.destroy();
});

describe('accounts', () => {
  test('every account has a registry and a front in every region', () => {
    assert.equal(world.account, DEFAULT_ACCOUNT);
    assert.deepEqual(world.accounts, [DEFAULT_ACCOUNT, OTHER]);
    const fronts = world.registryFronts();
    assert.deepEqual(
      fronts.map((f) => `${f.account}/${f.region}`),
      [
        `${DEFAULT_ACCOUNT}/us-west-2`,
        `${DEFAULT_ACCOUNT}/${SECONDARY}`,
        `${OTHER}/us-west-2`,
        `${OTHER}/${SECONDARY}`,
      ],
    );
    assert.equal(new Set(fronts.map((f) => f.host)).size, 4);
    assert.equal(world.registryFront('us-west-2'), world.registryHost);
    assert.equal(world.registryFront(SECONDARY), world.secondaryRegistryHost);
    assert.notEqual(world.registry('us-west-2', OTHER), world.registry('us-west-2'));
    assert.throws(() => world.registry('us-west-2', UNKNOWN), /no account 999999999999/);
  });

  test('no registryId acts on the caller’s own account; registryId on that account, and is echoed', async () => {
    const own = await ecr().send(new CreateRepositoryCommand({ repositoryName: 'iso' }));
    assert.equal(own.repository?.registryId, DEFAULT_ACCOUNT);
    assert.equal(own.repository?.repositoryArn, `arn:aws:ecr:us-west-2:${DEFAULT_ACCOUNT}:repository/iso`);
    assert.equal(own.repository?.repositoryUri, `${world.registryHost}/iso`);
    await assert.rejects(
      ecr().send(new DescribeRepositoriesCommand({ registryId: OTHER, repositoryNames: ['iso'] })),
      (e: RepositoryNotFoundException) => {
        assert.ok(e instanceof RepositoryNotFoundException);
        assert.match(e.message, /does not exist in the registry with id '111111111111'/);
        return true;
      },
    );
    const other = await ecr().send(
      new CreateRepositoryCommand({
        registryId: OTHER,
        repositoryName: 'iso',
        imageTagMutability: 'IMMUTABLE',
      }),
    );
    assert.equal(other.repository?.registryId, OTHER);
    assert.equal(other.repository?.repositoryArn, `arn:aws:ecr:us-west-2:${OTHER}:repository/iso`);
    assert.equal(other.repository?.repositoryUri, `${world.registryFront('us-west-2', OTHER)}/iso`);
    const listed = await ecr().send(new DescribeRepositoriesCommand({ registryId: OTHER }));
    assert.deepEqual(
      listed.repositories?.map((r) => [r.registryId, r.repositoryName, r.imageTagMutability]),
      [[OTHER, 'iso', 'IMMUTABLE']],
    );
    assert.deepEqual(
      world.repositories('us-west-2', OTHER).map((r) => r.mutability),
      ['IMMUTABLE'],
      'the World API sees the same registry',
    );
    assert.equal(world.repositories('us-west-2').find((r) => r.name === 'iso')?.mutability, 'MUTABLE');
    // Same account, other region: another registry.
    await assert.rejects(
      ecr(SECONDARY).send(new DescribeRepositoriesCommand({ registryId: OTHER, repositoryNames: ['iso'] })),
      RepositoryNotFoundException,
    );
  });

  test('images are per account; DescribeImages echoes the registryId', async () => {
    const seeded = await world.seedImage('us-west-2', 'svc', '1.0.0', OTHER);
    assert.equal(await world.tagDigest('us-west-2', 'svc', '1.0.0', OTHER), seeded.digest);
    assert.equal(await world.tagDigest('us-west-2', 'svc', '1.0.0'), undefined);
    const described = await ecr().send(
      new DescribeImagesCommand({
        registryId: OTHER,
        repositoryName: 'svc',
        imageIds: [{ imageTag: '1.0.0' }],
      }),
    );
    assert.equal(described.imageDetails?.[0]?.registryId, OTHER);
    assert.equal(described.imageDetails?.[0]?.imageDigest, seeded.digest);
    await assert.rejects(
      ecr().send(new DescribeImagesCommand({ repositoryName: 'svc', imageIds: [{ imageTag: '1.0.0' }] })),
      RepositoryNotFoundException,
    );
    assert.equal(await world.deleteImage('us-west-2', 'svc', '1.0.0', OTHER), true);
    assert.equal(await world.tagDigest('us-west-2', 'svc', '1.0.0', OTHER), undefined);
  });

  test('a malformed registryId is InvalidParameterException; an account the world lacks is AccessDenied', async () => {
    for (const registryId of ['12345', '51526092197a', `${DEFAULT_ACCOUNT}0`]) {
      await assert.rejects(
        ecr().send(new DescribeRepositoriesCommand({ registryId })),
        (e: InvalidParameterException) => {
          assert.ok(e instanceof InvalidParameterException);
          assert.equal(
            e.message,
            "Invalid parameter at 'registryId' failed to satisfy constraint: 'must satisfy regular expression [0-9]{12}'",
          );
          assert.equal(e.$metadata.httpStatusCode, 400);
          return true;
        },
      );
    }
    await assert.rejects(
      ecr().send(new DescribeImagesCommand({ registryId: UNKNOWN, repositoryName: 'svc' })),
      (e: ECRServiceException) => {
        assert.equal(e.name, 'AccessDeniedException');
        assert.equal(e.$metadata.httpStatusCode, 400);
        assert.equal(
          e.message,
          `User: arn:aws:sts::${DEFAULT_ACCOUNT}:assumed-role/teleport-image-push/ecr-test is not authorized to perform: ` +
            `ecr:DescribeImages on resource: arn:aws:ecr:us-west-2:${UNKNOWN}:repository/svc ` +
            'because no resource-based policy allows the ecr:DescribeImages action',
        );
        return true;
      },
    );
    await assert.rejects(
      ecr().send(new DescribeRepositoriesCommand({ registryId: UNKNOWN })),
      /on resource: arn:aws:ecr:us-west-2:999999999999:repository\/\* because/,
    );
  });

  test('one authorization token serves every account’s front in its region', async () => {
    const out = await ecr().send(new GetAuthorizationTokenCommand({}));
    assert.equal(out.authorizationData?.length, 1);
    const data = out.authorizationData?.[0];
    assert.equal(data?.proxyEndpoint, `https://${world.registryHost}`);
    const auth = { authorization: `Basic ${data?.authorizationToken}` };
    for (const account of world.accounts) {
      const host = world.registryFront('us-west-2', account);
      assert.equal((await call(ca, `https://${host}/v2/`, auth)).status, 200, account);
      assert.equal(
        (await call(ca, `https://${world.registryFront(SECONDARY, account)}/v2/`, auth)).status,
        401,
        'a token is valid in the region that issued it only',
      );
    }
    // The deprecated registryIds: one entry per id, the same token, each naming that registry's endpoint.
    const both = await ecr().send(
      new GetAuthorizationTokenCommand({ registryIds: [OTHER, DEFAULT_ACCOUNT] }),
    );
    assert.deepEqual(
      both.authorizationData?.map((d) => d.proxyEndpoint),
      [`https://${world.registryFront('us-west-2', OTHER)}`, `https://${world.registryHost}`],
    );
    assert.equal(
      both.authorizationData?.[0]?.authorizationToken,
      both.authorizationData?.[1]?.authorizationToken,
    );
    await assert.rejects(
      ecr().send(new GetAuthorizationTokenCommand({ registryIds: ['1234'] })),
      /at 'registryIds' failed to satisfy constraint: .*\[0-9\]\{12\}/,
    );
  });

  test('fronts keep their own repositories and count under their own target', async () => {
    await world.seedImage('us-west-2', 'front-iso', '2.0.0', OTHER);
    const token = (await ecr().send(new GetAuthorizationTokenCommand({}))).authorizationData?.[0]
      ?.authorizationToken;
    const headers = { authorization: `Basic ${token}`, accept: MEDIA.ociManifest };
    world.counters.reset();
    const other = world.registryFront('us-west-2', OTHER);
    assert.equal((await call(ca, `https://${other}/v2/front-iso/manifests/2.0.0`, headers)).status, 200);
    const own = await call(ca, `https://${world.registryHost}/v2/front-iso/manifests/2.0.0`, headers);
    assert.equal(own.status, 404);
    assert.deepEqual(registryErrors(own)[0], {
      code: 'NAME_UNKNOWN',
      message: `The repository with name 'front-iso' does not exist in the registry with id '${DEFAULT_ACCOUNT}'`,
    });
    assert.equal(world.counters.get(TARGETS.registry('us-west-2', OTHER), 'manifest-get'), 1);
    assert.equal(world.counters.get(TARGETS.registry('us-west-2'), 'manifest-get'), 1);
    assert.equal(TARGETS.registry('us-west-2', DEFAULT_ACCOUNT), 'registry:us-west-2');
    world.faults.inject({ target: TARGETS.registry('us-west-2', OTHER), kind: 'manifest-get', fault: '5xx' });
    assert.equal((await call(ca, `https://${other}/v2/front-iso/manifests/2.0.0`, headers)).status, 503);
    assert.equal(
      (await call(ca, `https://${world.registryHost}/v2/`, headers)).status,
      200,
      'only that front',
    );
  });
});

test('a role in another account: calls without registryId act on that account', async () => {
  const roleArn = `arn:aws:iam::${OTHER}:role/teleport-image-push`;
  const w = await startWorld({ roleArn, publishStandins: false });
  const h = new NodeHttpHandler({ httpsAgent: new Agent({ ca: readFileSync(w.caFile) }) });
  try {
    assert.deepEqual(w.accounts, [DEFAULT_ACCOUNT, OTHER], "the role's account gets registries");
    const client = ecrIn(w, h, await assumeIn(w, h));
    const created = await client.send(new CreateRepositoryCommand({ repositoryName: 'mine' }));
    assert.equal(created.repository?.registryId, OTHER);
    assert.deepEqual(
      w.repositories('us-west-2', OTHER).map((r) => r.name),
      ['mine'],
    );
    assert.deepEqual(w.repositories('us-west-2'), []);
    const token = await client.send(new GetAuthorizationTokenCommand({}));
    assert.equal(
      token.authorizationData?.[0]?.proxyEndpoint,
      `https://${w.registryFront('us-west-2', OTHER)}`,
    );
    const cross = await client.send(
      new CreateRepositoryCommand({ registryId: DEFAULT_ACCOUNT, repositoryName: 'theirs' }),
    );
    assert.equal(cross.repository?.repositoryUri, `${w.registryHost}/theirs`);
  } finally {
    h.destroy();
    await w.stop();
  }
});

describe('credential expiry and recordings', () => {
  test('short STS credentials: honest Expiration, then ExpiredTokenException from ECR and STS', async () => {
    assert.throws(() => world.sts.setCredentialLifetime(0), /whole number of seconds/);
    assert.throws(() => world.sts.setCredentialLifetime(1.5), /whole number of seconds/);
    world.sts.setCredentialLifetime(2);
    let short: Credentials;
    try {
      short = await assumeIn(world, handler, 'short');
    } finally {
      world.sts.setCredentialLifetime();
    }
    const left = (short.expiration?.getTime() ?? 0) - Date.now();
    assert.ok(left > 0 && left <= 2000, `expires in ${left} ms`);
    const issued = world.sts.credentials().at(-1);
    assert.equal(issued?.accessKeyId, short.accessKeyId);
    assert.equal(issued?.expiration.getTime(), short.expiration?.getTime(), 'Expiration is the real expiry');
    const client = ecrIn(world, handler, short);
    await client.send(new DescribeRepositoriesCommand({}));
    await until(short.expiration);
    await assert.rejects(client.send(new DescribeRepositoriesCommand({})), (e: ECRServiceException) => {
      assert.equal(e.name, 'ExpiredTokenException');
      assert.equal(e.message, 'The security token included in the request is expired');
      assert.equal(e.$metadata.httpStatusCode, 400);
      return true;
    });
    const sts = new STSClient({
      region: 'us-west-2',
      endpoint: world.sts.endpoint,
      requestHandler: handler,
      credentials: short,
      maxAttempts: 1,
    });
    await assert.rejects(sts.send(new GetCallerIdentityCommand({})), (e: STSServiceException) => {
      assert.equal(e.name, 'ExpiredToken');
      assert.equal(e.$metadata.httpStatusCode, 403);
      return true;
    });
    const calls = world.ecr.calls().filter((c) => c.accessKeyId === short.accessKeyId);
    assert.deepEqual(
      calls.map((c) => [c.operation, c.status, c.error, c.account]),
      [
        ['DescribeRepositories', 200, undefined, DEFAULT_ACCOUNT],
        ['DescribeRepositories', 400, 'ExpiredTokenException', undefined],
      ],
    );
    // A fresh credential from the default lifetime works again.
    const fresh = await assumeIn(world, handler, 'fresh');
    assert.ok((fresh.expiration?.getTime() ?? 0) > Date.now() + 3500 * 1000);
    await ecrIn(world, handler, fresh).send(new DescribeRepositoriesCommand({}));
  });

  test('an expired registry token is refused by every front with 403 DENIED', async () => {
    world.ecr.setTokenLifetime(1);
    let out: GetAuthorizationTokenCommandOutput;
    try {
      out = await ecr().send(new GetAuthorizationTokenCommand({}));
    } finally {
      world.ecr.setTokenLifetime();
    }
    const data = out.authorizationData?.[0];
    const left = (data?.expiresAt?.getTime() ?? 0) - Date.now();
    assert.ok(left > 0 && left <= 1000, `expires in ${left} ms`);
    const auth = { authorization: `Basic ${data?.authorizationToken}` };
    assert.equal((await call(ca, `https://${world.registryHost}/v2/`, auth)).status, 200);
    await until(data?.expiresAt);
    world.counters.reset();
    for (const host of [world.registryHost, world.registryFront('us-west-2', OTHER)]) {
      const refused = await call(ca, `https://${host}/v2/`, auth);
      assert.equal(refused.status, 403);
      assert.equal(refused.headers['www-authenticate'], undefined);
      assert.deepEqual(registryErrors(refused), [
        { code: 'DENIED', message: 'Your authorization token has expired. Reauthenticate and try again.' },
      ]);
    }
    assert.equal(world.counters.get(TARGETS.registry('us-west-2'), 'auth-expired'), 1);
    const head = await call(ca, `https://${world.registryHost}/v2/x/manifests/1`, auth, 'HEAD');
    assert.equal(head.status, 403);
    const recorded = world.ecr.registryCalls().slice(-3);
    assert.deepEqual(
      recorded.map((c) => [c.account, c.kind, c.auth, c.accessKeyId, c.status]),
      [
        [DEFAULT_ACCOUNT, 'ping', 'expired', credentials.accessKeyId, 403],
        [OTHER, 'ping', 'expired', credentials.accessKeyId, 403],
        [DEFAULT_ACCOUNT, 'manifest-head', 'expired', credentials.accessKeyId, 403],
      ],
    );
    const renewed = await ecr().send(new GetAuthorizationTokenCommand({}));
    assert.ok((renewed.authorizationData?.[0]?.expiresAt?.getTime() ?? 0) > Date.now() + 11 * 3600 * 1000);
    const again = { authorization: `Basic ${renewed.authorizationData?.[0]?.authorizationToken}` };
    assert.equal((await call(ca, `https://${world.registryHost}/v2/`, again)).status, 200);
  });

  test('the SVID lifetime tbot gets is settable; SVIDs are recorded', async () => {
    const join = async (extra: Record<string, unknown> = {}) => {
      const idToken = await world.oidc.mint(TELEPORT_JOIN_AUDIENCE);
      const reply = await httpsCall(
        `https://${world.teleportFqdn}/webapi/standin/join`,
        { method: 'POST', headers: { 'content-type': 'application/json' }, ca, agent: false },
        { body: sampleJoinBody(idToken, extra) },
      );
      assert.equal(reply.status, 200, reply.body.toString());
      return decodeJwt((JSON.parse(reply.body.toString()) as { jwt: string }).jwt);
    };
    const before = world.teleport.svids().filter((s) => s.via === 'join').length;
    world.teleport.setSvidLifetime(5);
    try {
      const claims = await join();
      assert.equal((claims.exp ?? 0) - (claims.iat ?? 0), 5);
      assert.ok(
        ((await join({ exp_offset_seconds: -60 })).exp ?? 0) < Date.now() / 1000,
        'tbot’s own offset wins',
      );
    } finally {
      world.teleport.setSvidLifetime();
    }
    const claims = await join();
    assert.equal((claims.exp ?? 0) - (claims.iat ?? 0), 3600);
    const joined = world.teleport.svids().filter((s) => s.via === 'join');
    assert.equal(joined.length - before, 3, 'three SVIDs through the join endpoint');
    const last = joined.at(-1);
    assert.equal(last?.jti, claims.jti);
    assert.deepEqual(last?.audiences, ['sts.amazonaws.com']);
    assert.equal(last?.expiresAt.getTime(), (claims.exp ?? 0) * 1000);
    assert.ok(
      world.teleport.svids().some((s) => s.via === 'mint'),
      'the suite’s own mintSvid calls',
    );
  });

  test('recordings tell which credentials served which ECR call and which registry request', async () => {
    const a = await assumeIn(world, handler, 'session-a');
    const b = await assumeIn(world, handler, 'session-b');
    const tokenA = (await ecrIn(world, handler, a).send(new GetAuthorizationTokenCommand({})))
      .authorizationData?.[0];
    const tokenB = (
      await ecrIn(world, handler, b).send(new GetAuthorizationTokenCommand({ registryIds: [OTHER] }))
    ).authorizationData?.[0];
    const calls = world.ecr.calls().slice(-2);
    assert.deepEqual(
      calls.map((c) => [c.operation, c.accessKeyId, c.registryId, c.account, c.status, c.target, c.region]),
      [
        ['GetAuthorizationToken', a.accessKeyId, undefined, DEFAULT_ACCOUNT, 200, 'ecr', 'us-west-2'],
        ['GetAuthorizationToken', b.accessKeyId, undefined, DEFAULT_ACCOUNT, 200, 'ecr', 'us-west-2'],
      ],
    );
    await ecrIn(world, handler, b, SECONDARY).send(new DescribeRepositoriesCommand({ registryId: OTHER }));
    assert.deepEqual(
      (({ target, region, registryId, account, accessKeyId }) => ({
        target,
        region,
        registryId,
        account,
        accessKeyId,
      }))(world.ecr.calls().at(-1) ?? ({} as never)),
      {
        target: 'ecr-secondary',
        region: SECONDARY,
        registryId: OTHER,
        account: OTHER,
        accessKeyId: b.accessKeyId,
      },
    );
    assert.deepEqual(
      world.ecr
        .tokens()
        .slice(-2)
        .map((t) => t.accessKeyId),
      [a.accessKeyId, b.accessKeyId],
    );
    await call(ca, `https://${world.registryHost}/v2/`, {
      authorization: `Basic ${tokenA?.authorizationToken}`,
    });
    await call(ca, `https://${world.registryFront('us-west-2', OTHER)}/v2/`, {
      authorization: `Basic ${tokenB?.authorizationToken}`,
    });
    await call(ca, `https://${world.registryHost}/v2/`, { authorization: 'Basic QVdTOm5vcGU=' });
    await call(ca, `https://${world.registryHost}/v2/`);
    assert.deepEqual(
      world.ecr
        .registryCalls()
        .slice(-4)
        .map((c) => [c.account, c.auth, c.accessKeyId, c.status]),
      [
        [DEFAULT_ACCOUNT, 'ok', a.accessKeyId, 200],
        [OTHER, 'ok', b.accessKeyId, 200],
        [DEFAULT_ACCOUNT, 'invalid', undefined, 401],
        [DEFAULT_ACCOUNT, 'none', undefined, 401],
      ],
    );
  });
});

test('world options set the lifetimes from the start', async () => {
  const w = await startWorld({
    publishStandins: false,
    stsCredentialSeconds: 30,
    svidSeconds: 20,
    registryTokenSeconds: 40,
  });
  const h = new NodeHttpHandler({ httpsAgent: new Agent({ ca: readFileSync(w.caFile) }) });
  try {
    const svid = decodeJwt(await w.teleport.mintSvid(['sts.amazonaws.com']));
    assert.equal((svid.exp ?? 0) - (svid.iat ?? 0), 20);
    const creds = await assumeIn(w, h);
    const left = (creds.expiration?.getTime() ?? 0) - Date.now();
    assert.ok(left > 28_000 && left <= 30_000, `credentials expire in ${left} ms`);
    const token = await ecrIn(w, h, creds).send(new GetAuthorizationTokenCommand({}));
    const tokenLeft = (token.authorizationData?.[0]?.expiresAt?.getTime() ?? 0) - Date.now();
    assert.ok(tokenLeft > 39_000 && tokenLeft <= 40_000, `token expires in ${tokenLeft} ms`);
    await assert.rejects(startWorld({ publishStandins: false, registryTokenSeconds: 0 }), /whole number/);
  } finally {
    h.destroy();
    await w.stop();
  }
});
