// A registry in another AWS account (issue 16, item 2): the role lives in DEFAULT_ACCOUNT, the registry host names
// 111122223333, and every ECR call must name that account as registryId — without it ECR acts on the caller's own
// registry. Under production names, so the hosts are ECR's real ones and the account comes from the host alone.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { useBakeWorld, why } from '../harness/bake-world.ts';
import { escapeRegExp } from '../support/regexp.ts';
import { sigTag } from '../support/signing.ts';
import { DEFAULT_ACCOUNT, ecrRegistryHost, SECONDARY_REGION, type World } from '../world/index.ts';

const ACCOUNT = '111122223333';
const REGION = 'us-west-2';

/** ECR calls that take a registryId (GetAuthorizationToken's token serves every registry of its region). */
const registryCalls = (world: World) =>
  world.ecr.calls().filter((call) => call.operation !== 'GetAuthorizationToken');

/** What one account's registry holds in a region: the tag and its signature tag. */
async function stored(world: World, region: string, repository: string, digest: string, account: string) {
  return {
    tag: await world.tagDigest(region, repository, '1.2.3', account),
    signature: await world.tagDigest(region, repository, sigTag(digest), account),
  };
}

describe('a registry in another account', () => {
  const fx = useBakeWorld(['other-account', 'other-account-mirrored'], {
    productionNames: true,
    accounts: [ACCOUNT],
    secondary: SECONDARY_REGION,
  });

  test('every ECR call names the account; the artifact and its signature land in its registry only', async () => {
    const { world } = fx;
    const host = ecrRegistryHost(ACCOUNT, REGION);
    assert.notEqual(world.roleArn.split(':')[4], ACCOUNT, 'the role is in another account');
    // Only in the other account: a run that left registryId out would look in the role's own and not find it.
    await world.seedImage(REGION, 'other_image', '1.2.3', ACCOUNT);

    const result = await fx.bake('other-account', { 'ecr-registry': host, images: 'other_image' });
    assert.equal(result.code, 0, why(result));
    const digest = result.outputs['digest'] ?? '';
    assert.equal(result.outputs['artifact'], `${host}/other-account-manifests@${digest}`);

    const calls = registryCalls(world);
    assert.ok(
      ['DescribeImages', 'DescribeRepositories', 'CreateRepository'].every((op) =>
        calls.some((c) => c.operation === op),
      ),
      calls.map((c) => c.operation).join(' '),
    );
    for (const call of calls) {
      assert.deepEqual([call.operation, call.registryId, call.account], [call.operation, ACCOUNT, ACCOUNT]);
      // Answered; the one refusal a fresh repository meets is DescribeRepositories not finding it yet.
      if (call.status !== 200) assert.equal(call.error, 'RepositoryNotFoundException', call.operation);
    }
    // The registry requests (the action's own and its tools') all went to that account's front.
    assert.deepEqual([...new Set(world.ecr.registryCalls().map((c) => c.account))], [ACCOUNT]);

    const there = await stored(world, REGION, 'other-account-manifests', digest, ACCOUNT);
    assert.equal(there.tag, digest);
    assert.ok(there.signature, 'the signature is next to it');
    const [repository] = world
      .repositories(REGION, ACCOUNT)
      .filter((r) => r.name === 'other-account-manifests');
    assert.equal(repository?.mutability, 'IMMUTABLE_WITH_EXCLUSION');
    // Nothing was created in the role's own account.
    assert.deepEqual(
      world.repositories(REGION, DEFAULT_ACCOUNT).map((r) => r.name),
      [],
    );
    assert.equal(world.proxy?.requests(ecrRegistryHost(DEFAULT_ACCOUNT, REGION)).length, 0);

    assert.match(result.summary, new RegExp(`logged in to <code>${escapeRegExp(host)}</code>`));
    assert.match(
      result.stdout,
      new RegExp(`created other-account-manifests in ${REGION} \\(account ${ACCOUNT}\\)`),
    );
  });

  test('the mirror to the secondary region stays in that account', async () => {
    const { world } = fx;
    const host = ecrRegistryHost(ACCOUNT, REGION);
    const secondary = ecrRegistryHost(ACCOUNT, SECONDARY_REGION);
    const result = await fx.bake('other-account-mirrored', {
      'ecr-registry': host,
      'aws-region-secondary': SECONDARY_REGION,
      'ecr-registry-secondary': secondary,
    });
    assert.equal(result.code, 0, why(result));
    const digest = result.outputs['digest'] ?? '';
    const repository = 'other-account-mirrored-manifests';
    const primary = await stored(world, REGION, repository, digest, ACCOUNT);
    assert.equal(primary.tag, digest);
    assert.ok(primary.signature, 'signed in the primary');
    assert.deepEqual(await stored(world, SECONDARY_REGION, repository, digest, ACCOUNT), primary);

    const secondaryCalls = registryCalls(world).filter((c) => c.region === SECONDARY_REGION);
    assert.ok(secondaryCalls.length > 0, 'ECR was asked in the secondary region');
    for (const call of registryCalls(world)) {
      assert.deepEqual(
        [call.operation, call.region, call.registryId, call.account],
        [call.operation, call.region, ACCOUNT, ACCOUNT],
      );
    }
    for (const region of [REGION, SECONDARY_REGION]) {
      assert.deepEqual(
        world.repositories(region, DEFAULT_ACCOUNT).map((r) => r.name),
        [],
        `nothing in ${DEFAULT_ACCOUNT}'s ${region} registry`,
      );
    }
    assert.match(
      result.summary,
      new RegExp(`copied to <code>${escapeRegExp(secondary)}/${repository}:1\\.2\\.3</code>`),
    );
  });
});
