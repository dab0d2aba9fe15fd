// The identity chain in the test world: Teleport version, tool installs, tbot, STS, ECR login, and cleanup.
// Stages after `login` belong to other suites, so these tests judge the identity stages by the summary's
// stage rows, the failure line, the servers' counters and the stand-ins' call log.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { describe, test } from 'node:test';
import { create as createTar } from 'tar';
import { stageStatus, useBakeWorld } from '../harness/bake-world.ts';
import { leakedSecrets, type RunOptions, type RunResult } from '../harness/run-action.ts';
import { TARGETS } from '../world/index.ts';
import { addToolFault, readCalls } from '../world/standins/control.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const ARCH = process.arch === 'x64' ? 'amd64' : process.arch;

const fx = useBakeWorld(['sample-service']);

function run(options: RunOptions = {}) {
  return fx.bake('sample-service', {}, options);
}

function assertStages(result: RunResult, expected: Record<string, string>) {
  const seen = Object.fromEntries(Object.keys(expected).map((stage) => [stage, stageStatus(result, stage)]));
  assert.deepEqual(seen, expected, `${result.failure ?? ''}\n${result.stdout}`);
}

const IDENTITY = [
  'preflight',
  'teleport-version',
  'install-tbot',
  'install-flux',
  'install-cosign',
  'teleport',
  'assume',
  'login',
];
const allOk = Object.fromEntries(IDENTITY.map((stage) => [stage, 'ok']));

function secretsIn(result: RunResult): string[] {
  return leakedSecrets(result, [...fx.world.secrets(), result.githubToken]);
}

/** The `iss` of a JWT, or undefined for anything else. */
function issuer(value: string): unknown {
  try {
    return (
      JSON.parse(Buffer.from(value.split('.')[1] ?? '', 'base64url').toString('utf8')) as { iss?: unknown }
    ).iss;
  } catch {
    return undefined;
  }
}

/** Every file below `dir` whose bytes contain one of `secrets`. */
async function filesHolding(dir: string, secrets: readonly string[]): Promise<string[]> {
  const found: string[] = [];
  const walk = async (path: string) => {
    for (const entry of await readdir(path, { withFileTypes: true })) {
      const full = join(path, entry.name);
      if (entry.isDirectory()) await walk(full);
      else if (entry.isFile()) {
        const text = await readFile(full, 'latin1');
        if (secrets.some((secret) => secret.length >= 8 && text.includes(secret))) found.push(full);
      }
    }
  };
  await walk(dir);
  return found;
}

describe('the identity chain', () => {
  test('joins Teleport, assumes the role and logs in; the config is private, and post leaves no secret on disk', async () => {
    const dir = await mkdtemp(join(fx.scratch, 'happy-'));
    const result = await run({
      dir,
      post: false,
      env: {
        // A runner may carry these from other steps: tbot rejects both proxy variables, tools get no AWS keys.
        TELEPORT_PROXY: 'elsewhere.example:443',
        TELEPORT_AUTH_SERVER: 'elsewhere.example:3025',
        AWS_ACCESS_KEY_ID: 'AKIAEARLIERSTEPKEY00',
        AWS_SECRET_ACCESS_KEY: 'an-earlier-step-secret-key',
      },
    });
    assertStages(result, allOk);
    assert.equal(fx.world.counters.get(TARGETS.teleport, 'find'), 1);
    assert.equal(fx.world.counters.get(TARGETS.sts, 'AssumeRoleWithWebIdentity'), 1);
    assert.equal(fx.world.counters.get(TARGETS.ecr, 'GetAuthorizationToken'), 1);
    assert.match(
      result.stdout,
      new RegExp(`Teleport ${fx.world.standinVersions.teleport.replace(/\./g, '\\.')} \\(from https://`),
    );
    assert.match(result.summary, /logged in to <code>127\.0\.0\.1:\d+<\/code>/);

    // The docker config: under the run's private root, for the configured host, readable by the runner user only.
    const root = result.state['root'] ?? '';
    assert.ok(root.startsWith(result.runnerTemp), 'the private root lives under RUNNER_TEMP');
    const config = join(root, 'docker', 'config.json');
    assert.equal((await stat(root)).mode & 0o777, 0o700);
    assert.equal((await stat(join(root, 'docker'))).mode & 0o777, 0o700);
    assert.equal((await stat(config)).mode & 0o777, 0o600);
    const auths = (JSON.parse(await readFile(config, 'utf8')) as { auths: Record<string, { auth: string }> })
      .auths;
    assert.deepEqual(Object.keys(auths), [fx.world.registryHost]);
    const [user, password] = Buffer.from(auths[fx.world.registryHost]!.auth, 'base64')
      .toString('utf8')
      .split(':');
    assert.equal(user, 'AWS');
    assert.ok(result.masks.includes(password!), 'the ECR password is masked');
    assert.ok(result.masks.includes(auths[fx.world.registryHost]!.auth), 'the base64 token is masked');
    // Each tbot run has its own private directory: one run here.
    const tbotRuns = await readdir(join(root, 'tbot'));
    assert.equal(tbotRuns.length, 1);
    const tbotDir = join(root, 'tbot', tbotRuns[0]!);
    const tbotConfig = join(tbotDir, 'tbot.yaml');
    assert.equal((await stat(tbotDir)).mode & 0o777, 0o700);
    assert.equal((await stat(tbotConfig)).mode & 0o777, 0o600);
    assert.equal((await stat(join(tbotDir, 'identity'))).mode & 0o777, 0o700);

    // Every secret the action handles is masked (GitHub OIDC tokens go to tbot and cosign, not to it).
    const handled = fx.world
      .secrets()
      .filter((s) => s !== fx.world.oidc.requestToken && issuer(s) !== fx.world.oidc.issuer);
    assert.ok(handled.length >= 5, 'a JWT, three STS values and the ECR token at least');
    for (const secret of handled) {
      assert.ok(result.masks.includes(secret), `masked: ${secret.slice(0, 6)}…`);
    }
    assert.deepEqual(secretsIn(result), []);

    // tbot ran without the proxy variables; the child tools never saw AWS keys, only DOCKER_CONFIG.
    const tbotCalls = readCalls(fx.world.controlDir, 'tbot');
    assert.equal(tbotCalls.length, 1);
    assert.deepEqual(tbotCalls[0]!.argv, ['start', '--config', tbotConfig]);
    assert.ok(
      !tbotCalls[0]!.env.includes('TELEPORT_PROXY') && !tbotCalls[0]!.env.includes('TELEPORT_AUTH_SERVER'),
    );
    // Real tools (E2E_REAL_TOOLS=1) keep no call log; the stand-ins record each call's environment names.
    for (const call of [
      ...readCalls(fx.world.controlDir, 'flux'),
      ...readCalls(fx.world.controlDir, 'cosign'),
    ]) {
      assert.ok(call.env.includes('DOCKER_CONFIG'), `${call.tool} ${call.command} gets DOCKER_CONFIG`);
      assert.ok(call.env.includes('SSL_CERT_FILE'), `${call.tool} ${call.command} gets SSL_CERT_FILE`);
      for (const name of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN']) {
        assert.ok(!call.env.includes(name), `${call.tool} ${call.command} gets no ${name}`);
      }
    }

    // Nothing was handed to later steps.
    assert.equal(await readFile(join(dir, 'runner', 'env'), 'utf8'), '', 'GITHUB_ENV is untouched');
    assert.equal(await readFile(join(dir, 'runner', 'path'), 'utf8'), '', 'GITHUB_PATH is untouched');

    // The post step, as the runner runs it after main: nothing under the run's directories holds a secret.
    const post = spawnSync(process.execPath, [join(ROOT, 'dist/post.js')], {
      env: { PATH: process.env['PATH'], RUNNER_TEMP: result.runnerTemp, STATE_root: root },
      encoding: 'utf8',
    });
    assert.equal(post.status, 0, post.stdout + post.stderr);
    assert.equal(existsSync(root), false);
    assert.deepEqual(await readdir(result.runnerTemp), []);
    assert.deepEqual(await filesHolding(dir, [...fx.world.secrets(), result.githubToken]), []);
  });

  test('a second run on the same tool cache downloads nothing', async () => {
    const toolCache = await mkdtemp(join(fx.scratch, 'cache-'));
    const first = await run({ toolCache });
    assertStages(first, { 'install-tbot': 'ok', 'install-flux': 'ok', 'install-cosign': 'ok', login: 'ok' });
    assert.ok(fx.world.counters.get(TARGETS.mirror) >= 6, 'three assets and three checksum files');
    fx.world.counters.reset();
    const second = await run({ toolCache });
    assertStages(second, { 'install-tbot': 'ok', 'install-flux': 'ok', 'install-cosign': 'ok', login: 'ok' });
    assert.equal(fx.world.counters.get(TARGETS.mirror), 0);
    assert.equal(second.stdout.match(/from the tool cache/g)?.length, 3);
  });

  test('STS answering IDPCommunicationError twice is retried and the run goes on', async () => {
    fx.world.faults.inject({
      target: TARGETS.sts,
      kind: 'AssumeRoleWithWebIdentity',
      fault: 'error',
      code: 'IDPCommunicationError',
      count: 2,
    });
    const result = await run();
    assertStages(result, { teleport: 'ok', assume: 'ok', login: 'ok' });
    assert.equal(fx.world.counters.get(TARGETS.sts, 'AssumeRoleWithWebIdentity'), 3);
    assert.deepEqual(secretsIn(result), []);
  });

  test('AccessDenied fails after one attempt, naming the role and what to check', async () => {
    fx.world.faults.inject({
      target: TARGETS.sts,
      kind: 'AssumeRoleWithWebIdentity',
      fault: 'error',
      code: 'AccessDenied',
      status: 403,
      message: 'Not authorized to perform sts:AssumeRoleWithWebIdentity',
      count: Number.POSITIVE_INFINITY,
    });
    const result = await run();
    assert.equal(result.code, 1);
    assertStages(result, { teleport: 'ok', assume: 'failed', login: 'not run' });
    assert.equal(fx.world.counters.get(TARGETS.sts, 'AssumeRoleWithWebIdentity'), 1);
    const failure = result.failure ?? '';
    assert.ok(failure.startsWith(`assume: STS refused to assume ${fx.world.roleArn}`), failure);
    assert.match(failure, /AccessDenied: Not authorized/);
    assert.match(
      failure,
      / — check the trust policy of arn:aws:iam::\d+:role\/[\w-]+: .*audience sts\.amazonaws\.com/,
    );
    assert.match(failure, /join token 'image-push-github-actions-sample-service'/);
    assert.deepEqual(secretsIn(result), []);
  });

  test('an expired JWT from tbot fails before STS is asked', async () => {
    addToolFault(fx.world.controlDir, { tool: 'tbot', command: 'start', mode: 'expired-jwt' });
    const result = await run();
    assert.equal(result.code, 1);
    assertStages(result, { teleport: 'failed', assume: 'not run' });
    assert.equal(fx.world.counters.get(TARGETS.sts), 0);
    assert.match(
      result.failure ?? '',
      /^teleport: tbot did not produce a usable workload-identity JWT: .*jwt_svid is unusable: it expired at/,
    );
    assert.deepEqual(secretsIn(result), []);
  });

  test('a JWT for another audience fails before STS is asked', async () => {
    addToolFault(fx.world.controlDir, { tool: 'tbot', command: 'start', mode: 'bad-aud' });
    const result = await run();
    assertStages(result, { teleport: 'failed', assume: 'not run' });
    assert.equal(fx.world.counters.get(TARGETS.sts), 0);
    assert.match(
      result.failure ?? '',
      /its audience is \["bad-audience\.invalid"\], not sts\.amazonaws\.com/,
    );
  });

  test('tbot exiting 1 after writing a valid JWT is a warning, and the chain goes on', async () => {
    addToolFault(fx.world.controlDir, { tool: 'tbot', command: 'start', mode: 'exit1-after-work' });
    const result = await run();
    assertStages(result, { teleport: 'ok', assume: 'ok', login: 'ok' });
    const warnings = result.annotations.filter((a) => a.level === 'warning').map((a) => a.message);
    assert.ok(
      warnings.some(
        (w) =>
          /^tbot exited 1 but wrote a valid workload-identity JWT; continuing/.test(w) && /heartbeat/.test(w),
      ),
      warnings.join('\n'),
    );
    assert.equal(fx.world.counters.get(TARGETS.sts, 'AssumeRoleWithWebIdentity'), 1);
  });

  test('tbot exiting 1 without a JWT fails, showing its stderr', async () => {
    addToolFault(fx.world.controlDir, {
      tool: 'tbot',
      command: 'start',
      mode: 'fail',
      message:
        'token "image-push-github-actions-sample-service" is not allowed for repository maestra-io/other',
    });
    const result = await run();
    assert.equal(result.code, 1);
    assertStages(result, { teleport: 'failed', assume: 'not run' });
    const failure = result.failure ?? '';
    assert.match(
      failure,
      /^teleport: tbot did not produce a usable workload-identity JWT: tbot wrote no .*jwt_svid \(tbot exited 1\)/,
    );
    assert.match(
      failure,
      /ERROR: token "image-push-github-actions-sample-service" is not allowed for repository maestra-io\/other/,
    );
    assert.match(
      failure,
      / — check that join token 'image-push-github-actions-sample-service' \(join method github\)/,
    );
    assert.equal(fx.world.counters.get(TARGETS.sts), 0);
  });

  test('a tbot download that fails its checksum is never extracted or run', async () => {
    const version = '17.98.0';
    const asset = `teleport-v${version}-linux-${ARCH}-bin.tar.gz`;
    const mark = join(fx.scratch, 'tampered-tbot-ran');
    const src = await mkdtemp(join(fx.scratch, 'tampered-'));
    await mkdir(join(src, 'teleport'));
    await writeFile(join(src, 'teleport', 'tbot'), `#!/bin/sh\ntouch '${mark}'\n`, { mode: 0o755 });
    const tarball = join(fx.scratch, asset);
    await createTar({ gzip: true, file: tarball, cwd: src }, ['teleport']);
    const bytes = await readFile(tarball);
    const published = createHash('sha256').update('the real teleport release').digest('hex');
    await fx.world.mirror.publish(`cdn.teleport.dev/${asset}`, bytes);
    await fx.world.mirror.publish(`cdn.teleport.dev/${asset}.sha256`, `${published}  ${asset}\n`);

    const toolCache = await mkdtemp(join(fx.scratch, 'cache-'));
    const result = await run({ toolCache, inputs: { 'teleport-version': version } });
    assert.equal(result.code, 1);
    assertStages(result, { 'teleport-version': 'ok', 'install-tbot': 'failed', teleport: 'not run' });
    const url = `${fx.world.mirrorUrl}/cdn.teleport.dev/${asset}`;
    const actual = createHash('sha256').update(bytes).digest('hex');
    assert.equal(
      result.failure?.split(' — ')[0],
      `install-tbot: sha256 mismatch for ${url}: expected ${published}, got ${actual}`,
    );
    assert.equal(existsSync(mark), false, 'the tampered binary never ran');
    assert.equal(existsSync(join(toolCache, 'tbot')), false, 'nothing was cached');
    assert.equal(readCalls(fx.world.controlDir, 'tbot').length, 0);
    assert.equal(
      fx.world.counters.get(TARGETS.teleport, 'find'),
      0,
      'an explicit teleport-version asks no proxy',
    );
  });

  test('without id-token: write the run fails before any download, with the fix', async () => {
    const toolCache = await mkdtemp(join(fx.scratch, 'cache-'));
    const result = await run({ toolCache, env: { ACTIONS_ID_TOKEN_REQUEST_URL: undefined } });
    assert.equal(result.code, 1);
    assert.match(
      result.failure ?? '',
      /^preflight: .*ACTIONS_ID_TOKEN_REQUEST_URL is not set.* — add `permissions: id-token: write`/,
    );
    assert.equal(fx.world.counters.get(TARGETS.mirror), 0);
    assert.equal(fx.world.counters.get(TARGETS.teleport), 0);
    assert.deepEqual(await readdir(toolCache), []);
  });

  test('the proxy not answering /webapi/find fails naming the URL and status', async () => {
    fx.world.faults.inject({
      target: TARGETS.teleport,
      kind: 'find',
      fault: 'error',
      status: 404,
      code: 'not_found',
      count: 1,
    });
    const result = await run();
    assertStages(result, { 'teleport-version': 'failed', 'install-tbot': 'not run' });
    const failure = result.failure ?? '';
    assert.ok(
      failure.startsWith(
        `teleport-version: cannot learn the Teleport version from https://${fx.world.teleportFqdn}/webapi/find`,
      ),
      failure,
    );
    assert.match(failure, /answered HTTP 404/);
    assert.match(failure, /set `teleport-version`/);
  });

  test('a dry run asks nothing of Teleport, STS, ECR or the mirror', async () => {
    const result = await run({ inputs: { 'dry-run': 'true' } });
    assert.equal(result.code, 0, result.stdout);
    for (const stage of IDENTITY) assert.equal(stageStatus(result, stage), 'skipped', stage);
    for (const target of [TARGETS.teleport, TARGETS.sts, TARGETS.ecr, TARGETS.mirror, TARGETS.oidc]) {
      assert.equal(fx.world.counters.get(target), 0, target);
    }
  });
});
