// What the tools take from the runner's environment (issue 16, items 6 and 8): tbot never sees the variables
// that override its config, cosign never sees COSIGN_* or the runner's OIDC request variables and signs with the
// run's own token; and a key-only signature already on the artifact is told apart from a keyless one.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { useBakeWorld, why } from '../harness/bake-world.ts';
import { escapeRegExp } from '../support/regexp.ts';
import { sigTag } from '../support/signing.ts';
import { getManifest, putManifest } from '../world/oci.ts';
import { NEEDS_STANDINS } from '../world/real-tools.ts';
import { clearCalls, readCalls } from '../world/standins/control.ts';

const fx = useBakeWorld(['tbot-env', 'cosign-env', 'key-only']);

// Fulcio's GitHub identity: the run's GITHUB_SERVER_URL (the world's git server) and the workflow ref.
const signer = () => `${fx.repo.serverUrl}/${String(fx.world.oidc.claims()['job_workflow_ref'])}`;
const cosignCalls = (command: string) =>
  readCalls(fx.world.controlDir, 'cosign').filter((c) => c.command === command);

/**
 * Values an earlier step or the runner image may leave behind, each of which breaks or redirects tbot: a second
 * config next to --config, a config path, a debug flag kingpin cannot parse, another join token (which drops the
 * join method), other proxy and auth addresses (both set: no address at all), and another proxy address to dial.
 */
const TBOT_OVERRIDES: Record<string, string> = {
  TBOT_CONFIG: Buffer.from('version: v2\nproxy_server: elsewhere.example:443\n').toString('base64'),
  TBOT_CONFIG_PATH: '/nonexistent/tbot.yaml',
  TBOT_DEBUG: 'yes',
  TELEPORT_BOT_TOKEN: 'someone-elses-token',
  TELEPORT_PROXY: 'elsewhere.example:443',
  TELEPORT_AUTH_SERVER: 'elsewhere.example:3025',
  TBOT_USE_PROXY_ADDR: 'yes',
};

/** A tbot config the action would write (v2, github join, one workload-identity-jwt service). */
const tbotConfigText = (proxy: string, destination: string) =>
  [
    'version: v2',
    `proxy_server: ${proxy}`,
    'oneshot: true',
    'onboarding: { join_method: github, token: image-push-github-actions-tbot-env }',
    'storage: { type: memory }',
    'services:',
    '  - type: workload-identity-jwt',
    `    destination: { type: directory, path: ${destination} }`,
    '    selector: { name: image-push }',
    '    audiences: [sts.amazonaws.com]',
    '',
  ].join('\n');

/** Some of TBOT_OVERRIDES. */
const overrides = (...names: string[]) =>
  Object.fromEntries(names.map((name) => [name, TBOT_OVERRIDES[name]]));

/** The tbot the suite's runs installed. */
async function installedTbot(): Promise<string> {
  const base = join(fx.toolCache, 'tbot', fx.world.standinVersions.teleport);
  const [arch] = await readdir(base);
  return join(base, arch ?? '', 'tbot');
}

test("tbot runs without the runner's variables that would override its config", {
  skip: NEEDS_STANDINS,
}, async () => {
  const result = await fx.bake('tbot-env', { sign: 'false' }, { env: TBOT_OVERRIDES });
  assert.equal(result.code, 0, why(result));
  const calls = readCalls(fx.world.controlDir, 'tbot');
  assert.ok(calls.length >= 1, 'tbot ran');
  for (const call of calls) {
    assert.deepEqual(call.argv.slice(0, 2), ['start', '--config']);
    assert.deepEqual(
      call.env.filter((name) => name in TBOT_OVERRIDES),
      [],
      'none of them reached tbot',
    );
    assert.deepEqual(call.configEnv ?? [], [], 'nothing from the environment changed its config');
  }

  // Each of them breaks the installed tbot (as it breaks the real one), so the test above sees a regression.
  const tbot = await installedTbot();
  const config = join(fx.scratch, 'tbot-control.yaml');
  await writeFile(config, tbotConfigText(fx.world.teleportFqdn, join(fx.scratch, 'tbot-control-out')));
  const refusals: [Record<string, string | undefined>, RegExp][] = [
    [overrides('TBOT_CONFIG'), /ERROR: cannot specify both config and config-string/],
    [overrides('TBOT_DEBUG'), /ERROR: strconv\.ParseBool: parsing "yes": invalid syntax/],
    [overrides('TELEPORT_BOT_TOKEN'), /ERROR: join method must be provided/],
    [
      overrides('TELEPORT_PROXY', 'TELEPORT_AUTH_SERVER'),
      /ERROR: either a proxy or auth address must be set/,
    ],
  ];
  for (const [env, refusal] of refusals) {
    await assert.rejects(
      promisify(execFile)(tbot, ['start', '--config', config], {
        env: { PATH: process.env['PATH'], ...env },
      }),
      (error: { code?: number; stderr?: string }) => {
        assert.equal(error.code, 1, Object.keys(env).join(' '));
        assert.match(error.stderr ?? '', refusal);
        return true;
      },
    );
  }
});

test("cosign gets none of the runner's COSIGN_* or OIDC request variables, and signs with the run's token", {
  skip: NEEDS_STANDINS,
}, async () => {
  const { world } = fx;
  // Tokens for other workflows: had cosign taken either, the signature would name that workflow and not verify.
  const elsewhere = (name: string) => `maestra-io/${name}/.github/workflows/release.yml@refs/heads/main`;
  world.createRepository(world.region, 'elsewhere-signatures');
  const env = {
    COSIGN_IDENTITY_TOKEN: await world.oidc.mint('sigstore', { job_workflow_ref: elsewhere('other') }),
    COSIGN_REPOSITORY: `${world.registryHost}/elsewhere-signatures`,
    COSIGN_YES: 'false',
    SIGSTORE_ID_TOKEN: await world.oidc.mint('sigstore', { job_workflow_ref: elsewhere('stale') }),
  };
  const result = await fx.bake('cosign-env', {}, { env });
  assert.equal(result.code, 0, why(result));
  const digest = result.outputs['digest'] ?? '';

  // The signature sits next to the artifact, nowhere else.
  assert.ok(await world.tagDigest(world.region, 'cosign-env-manifests', sigTag(digest)));
  assert.equal(await world.tagDigest(world.region, 'elsewhere-signatures', sigTag(digest)), undefined);

  const calls = readCalls(world.controlDir, 'cosign');
  assert.ok(calls.some((c) => c.command === 'sign') && calls.some((c) => c.command === 'verify'));
  for (const call of calls) {
    assert.deepEqual(
      call.env.filter((name) => name.startsWith('COSIGN_') || name.startsWith('ACTIONS_ID_TOKEN_REQUEST_')),
      [],
      `cosign ${call.command}`,
    );
  }
  const [sign] = cosignCalls('sign');
  assert.equal(sign?.tokenSource, 'envvar', 'the token comes from SIGSTORE_ID_TOKEN, which the action sets');
  // Verified for this run's identity, exactly: the run's token signed, not the one left in the environment.
  assert.match(
    result.summary,
    new RegExp(`signature verified</td><td>✔ for <code>${escapeRegExp(signer())}</code>`),
  );
  assert.match(result.summary, /signature<\/td><td>signed now</);
});

test('a key-only signature on the digest does not count as a keyless one: the run signs keyless next to it', {
  skip: NEEDS_STANDINS,
}, async () => {
  const { world } = fx;
  const first = await fx.bake('key-only');
  assert.equal(first.code, 0, why(first));
  const digest = first.outputs['digest'] ?? '';

  // Make that signature key-only: the same signature layer without its certificate, chain and log entry.
  const raw = world.registry(world.region);
  const stored = await getManifest(raw, 'key-only-manifests', sigTag(digest));
  assert.ok(stored, 'signed');
  const manifest = JSON.parse(stored.body.toString('utf8')) as {
    mediaType: string;
    layers: { annotations: Record<string, string> }[];
  };
  for (const layer of manifest.layers) {
    for (const key of ['certificate', 'chain', 'bundle'])
      delete layer.annotations[`dev.sigstore.cosign/${key}`];
  }
  await putManifest(
    raw,
    'key-only-manifests',
    sigTag(digest),
    Buffer.from(JSON.stringify(manifest)),
    manifest.mediaType,
  );

  clearCalls(world.controlDir);
  const result = await fx.bake('key-only', { 'certificate-identity': signer() });
  assert.equal(result.code, 0, why(result));
  // cosign's exit 12 "nil certificate provided" is read as a definite "not signed by it", so there is one look
  // before signing (an inconclusive one is repeated, then fails) and one verification after.
  assert.match(
    result.stdout,
    new RegExp(
      `not signed yet: the signatures of \\S+@${digest} carry no certificate, so none is a keyless signature by identity ${escapeRegExp(signer())} \\(issuer [^)]+\\) \\(cosign exit 12, no certificate\\)`,
    ),
  );
  assert.equal(cosignCalls('verify').length, 2);
  assert.equal(cosignCalls('sign').length, 1);
  assert.match(result.summary, /signature<\/td><td>signed now</);
  const after = await getManifest(raw, 'key-only-manifests', sigTag(digest));
  const layers =
    (
      JSON.parse(after?.body.toString('utf8') ?? '{}') as {
        layers?: { annotations: Record<string, string> }[];
      }
    ).layers ?? [];
  assert.deepEqual(
    layers.map((l) => 'dev.sigstore.cosign/certificate' in l.annotations),
    [false, true],
    'the key-only signature stays, a keyless one is added',
  );
});
