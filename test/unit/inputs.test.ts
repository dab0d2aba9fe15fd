import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { INPUT_NAMES, readInputs } from '../../src/inputs.ts';
import { readActionYml } from '../harness/run-action.ts';
import { inputReader } from '../support/inputs.ts';

const valid = { service: 'db-migrator' };

describe('inputs', () => {
  test('action.yml declares exactly the inputs the action reads', async () => {
    const { inputs } = await readActionYml();
    assert.deepEqual(Object.keys(inputs).sort(), [...INPUT_NAMES].sort());
  });

  test("action.yml's defaults parse into the contract's values", async () => {
    const inputs = readInputs(await inputReader(valid));
    assert.equal(inputs.repository, 'db-migrator-manifests');
    assert.equal(inputs.teleportToken, 'image-push-github-actions-db-migrator');
    assert.equal(inputs.teleportFqdn, 'teleport.maestra.io:443');
    assert.equal(inputs.bakePath, 'kustomization');
    assert.equal(inputs.checkout, true);
    assert.equal(inputs.sign, true);
    assert.equal(inputs.dryRun, false);
    assert.equal(inputs.waitForImages, 0);
    assert.equal(inputs.tag, undefined);
    assert.deepEqual(inputs.images, []);
    assert.deepEqual(inputs.forbiddenPatterns, ['515260921971.dkr.ecr.eu-central-1.amazonaws.com']);
    assert.deepEqual(inputs.chartVersionFloors, [
      { chart: 'commons-app', floor: '18.1.1' },
      { chart: 'commons-app-init', floor: '7.5.1' },
      { chart: 'external-vault-agent', floor: '4.3.1' },
    ]);
    assert.equal(inputs.secondary, undefined);
    assert.match(inputs.fluxVersion, /^\d+\.\d+\.\d+$/);
    assert.match(inputs.cosignVersion, /^\d+\.\d+\.\d+$/);
  });

  test('values are normalised', async () => {
    const inputs = readInputs(
      await inputReader({
        ...valid,
        images: 'db_migrator_services, db_migrator_migrator\nteam/tool.x,db_migrator_services',
        'bake-path': './deploy//kustomization/',
        'teleport-fqdn': 'teleport.example.com',
        'tool-mirror': 'https://mirror.example.com/tools/',
        'teleport-token': 'custom-token',
        'aws-region-secondary': 'eu-central-1',
        'ecr-registry-secondary': '515260921971.dkr.ecr.eu-central-1.amazonaws.com',
        sign: 'False',
        'wait-for-images': '120',
      }),
    );
    assert.deepEqual(inputs.images, ['db_migrator_services', 'db_migrator_migrator', 'team/tool.x']);
    assert.equal(inputs.bakePath, 'deploy/kustomization');
    assert.equal(inputs.teleportFqdn, 'teleport.example.com:443');
    assert.equal(inputs.toolMirror, 'https://mirror.example.com/tools');
    assert.equal(inputs.teleportToken, 'custom-token');
    assert.deepEqual(inputs.secondary, {
      host: '515260921971.dkr.ecr.eu-central-1.amazonaws.com',
      region: 'eu-central-1',
      account: '515260921971',
    });
    assert.equal(inputs.sign, false);
    assert.equal(inputs.waitForImages, 120);
  });

  test('a registry on a loopback port and an explicit teleport version are accepted', async () => {
    const inputs = readInputs(
      await inputReader({
        ...valid,
        'ecr-registry': '127.0.0.1:5000',
        'teleport-version': '17.4.8',
        tag: '0.10.0',
      }),
    );
    assert.equal(inputs.registry.host, '127.0.0.1:5000');
    assert.equal(inputs.teleportVersion, '17.4.8');
    assert.equal(inputs.tag, '0.10.0');
  });

  // Each row: the input, its bad value, and what the message must say besides the input's name.
  const BAD: [string, string, RegExp][] = [
    ['service', '', /kebab-case/],
    ['service', 'Db-Migrator', /kebab-case/],
    ['service', 'db_migrator', /kebab-case/],
    ['service', '-db', /kebab-case/],
    ['service', 'db--migrator', /kebab-case/],
    ['service', 'db-', /kebab-case/],
    ['service', 'a'.repeat(65), /at most 64/],
    ['service', 'db migrator', /kebab-case/],
    ['service', 'db;rm -rf /', /kebab-case/],
    ['service', 'db-migrat\u043er', /\\u043e/],
    ['service', 'db\nmigrator', /\\n/],
    ['service', '$(whoami)', /kebab-case/],
    ['images', 'Db_Migrator', /not an ECR repository name/],
    ['images', 'db migrator', /not an ECR repository name/],
    ['images', 'a', /not an ECR repository name/],
    ['images', 'db__/x', /not an ECR repository name/],
    ['images', '../etc', /not an ECR repository name/],
    ['images', 'ok,bad:tag', /"bad:tag"/],
    ['images', 'img@sha256:abc', /not an ECR repository name/],
    ['tag', 'v1.2.3', /strict X\.Y\.Z/],
    ['tag', '1.2.3-rc1', /strict X\.Y\.Z/],
    ['tag', '1.2', /strict X\.Y\.Z/],
    ['tag', '01.2.3', /strict X\.Y\.Z/],
    ['tag', '1.2.3+build', /strict X\.Y\.Z/],
    ['tag', 'refs/tags/1.2.3', /strict X\.Y\.Z/],
    ['tag', '1.2.3 rc', /strict X\.Y\.Z/],
    ['bake-path', '/etc', /relative/],
    ['bake-path', '../outside', /inside the checked-out tree/],
    ['bake-path', 'kustomization/../../x', /inside the checked-out tree/],
    ['bake-path', 'a\\b', /forward slashes/],
    ['bake-path', 'k\u0000', /control character/],
    ['checkout', 'yes', /true or false/],
    ['sign', '1', /true or false/],
    ['dry-run', 'maybe', /true or false/],
    ['github-token', 'ghs_abc def', /whitespace/],
    ['aws-region', 'us_west_2', /AWS region/],
    ['aws-region', 'US-WEST-2', /AWS region/],
    ['ecr-registry', 'https://515260921971.dkr.ecr.us-west-2.amazonaws.com', /host\[:port\]/],
    ['ecr-registry', 'registry.example.com/path', /host\[:port\]/],
    ['ecr-registry', 'registry.example.com:99999', /host\[:port\]/],
    ['ecr-registry', 'reg istry', /host\[:port\]/],
    ['aws-role-arn', 'arn:aws:iam::123:role/x', /IAM role ARN/],
    ['aws-role-arn', 'arn:aws:iam::515260921971:user/bob', /IAM role ARN/],
    ['teleport-fqdn', 'https://teleport.maestra.io', /host\[:port\]/],
    ['teleport-fqdn', 'teleport.maestra.io:0', /host\[:port\]/],
    ['teleport-token', 'bad token', /join token/],
    ['teleport-workload-identity', 'image push', /workload identity/],
    ['teleport-version', 'latest', /auto, or a Teleport version/],
    ['teleport-version', 'v17.0.0', /auto, or a Teleport version/],
    ['flux-version', 'v2.9.4', /strict X\.Y\.Z/],
    ['cosign-version', 'latest', /strict X\.Y\.Z/],
    ['tool-mirror', 'http://mirror.example.com', /https:\/\//],
    ['tool-mirror', 'https://user:pw@mirror.example.com', /without credentials/],
    ['tool-mirror', 'mirror.example.com', /https:\/\//],
    ['certificate-identity', 'has space', /expected signer/],
    ['certificate-oidc-issuer', 'token.actions.githubusercontent.com', /https:\/\//],
    ['forbidden-patterns', 'ok\nbad\u0007bell', /non-printable/],
    ['chart-version-floors', 'commons-app', /chart=X\.Y\.Z/],
    ['chart-version-floors', 'commons-app=18.1', /chart=X\.Y\.Z/],
    ['chart-version-floors', 'commons-app=v18.1.1', /chart=X\.Y\.Z/],
    ['chart-version-floors', 'a=1.0.0=2', /chart=X\.Y\.Z/],
    ['wait-for-images', '-1', /whole number/],
    ['wait-for-images', '1.5', /whole number/],
    ['wait-for-images', '9999', /0 to 3600/],
    ['aws-region-secondary', 'eu-central-1', /ecr-registry-secondary/],
    ['ecr-registry-secondary', 'x.example.com/y', /host\[:port\]/],
    ['crane-version', 'latest', /version/],
  ];

  for (const [name, value, expected] of BAD) {
    test(`rejects ${name}=${JSON.stringify(value).slice(0, 40)}`, async () => {
      const read = await inputReader({ ...valid, [name]: value });
      assert.throws(
        () => readInputs(read),
        (error: Error) => {
          assert.match(error.message, new RegExp(`input '${name}'|'${name}'`));
          assert.match(error.message, expected);
          return true;
        },
      );
    });
  }

  test('at least 60 bad inputs are covered', () => assert.ok(BAD.length >= 60));

  test('a bad github-token is named but its value never shown', async () => {
    const read = await inputReader({ ...valid, 'github-token': 'ghs_secret value' });
    assert.throws(
      () => readInputs(read),
      (error: Error) =>
        !error.message.includes('ghs_secret') && /'github-token' is \(value hidden\)/.test(error.message),
    );
  });

  test('every bad input is reported at once, one line each', async () => {
    const read = await inputReader({ service: 'Bad', tag: 'v1', checkout: 'nope' });
    assert.throws(
      () => readInputs(read),
      (error: Error) => {
        const lines = error.message.split('\n');
        assert.equal(lines.length, 3);
        assert.match(lines[0] ?? '', /^input 'service'/);
        assert.match(lines[1] ?? '', /^input 'tag'/);
        assert.match(lines[2] ?? '', /^input 'checkout'/);
        return true;
      },
    );
  });

  test('huge values are clipped in the message', async () => {
    const read = await inputReader({ ...valid, tag: '9'.repeat(100_000) });
    assert.throws(
      () => readInputs(read),
      (error: Error) => error.message.length < 600 && /100000 chars/.test(error.message),
    );
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
