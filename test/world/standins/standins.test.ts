// Self-tests of the stand-in CLIs: built and published like the world does, then run as subprocesses, offline for
// their command lines and inside the test world for the real registry round trip.
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { Agent } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ECRClient, GetAuthorizationTokenCommand } from '@aws-sdk/client-ecr';
import { AssumeRoleWithWebIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { decodeJwt, UnsecuredJWT } from 'jose';
import { httpsCall } from '../https-client.ts';
import { registryTarget, startWorld, type World } from '../index.ts';
import { digestRefTarget } from '../registry-front.ts';
import { type Run, toolRunner } from '../run-tool.ts';
import { addToolFault, clearToolFaults, readCalls, readToolFaults } from './control.ts';
import { collectEntries, tarEntries } from './lib/tarball.ts';
import { type PublishedAsset, publishStandins } from './publish.ts';

const VERSIONS = { flux: '2.9.4', cosign: '2.6.1', teleport: '17.4.8' };
const HOST_ARCH = process.arch === 'arm64' ? 'arm64' : 'amd64';
const OTHER_ARCH = HOST_ARCH === 'amd64' ? 'arm64' : 'amd64';

const { run, killAll } = toolRunner(30_000);
const scratch: string[] = [];

function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  scratch.push(dir);
  return dir;
}

/** The environment a tool gets: ours minus anything that could leak trust or credentials in. */
function baseEnv(extra: Record<string, string> = {}): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = {
    PATH: process.env['PATH'],
    HOME: process.env['HOME'],
    ...extra,
  };
  return env;
}

interface Installed {
  flux: string;
  cosign: string;
  tbot: string;
}

/** Unpacks the published assets the way the action's install step would. */
function install(mirrorRoot: string, versions: typeof VERSIONS, arch: string, into: string): Installed {
  mkdirSync(into, { recursive: true });
  const fluxDir = join(into, 'flux');
  mkdirSync(fluxDir);
  execFileSync('tar', [
    '-xzf',
    join(
      mirrorRoot,
      `github.com/fluxcd/flux2/releases/download/v${versions.flux}/flux_${versions.flux}_linux_${arch}.tar.gz`,
    ),
    '-C',
    fluxDir,
  ]);
  const cosign = join(into, 'cosign');
  copyFileSync(
    join(mirrorRoot, `github.com/sigstore/cosign/releases/download/v${versions.cosign}/cosign-linux-${arch}`),
    cosign,
  );
  execFileSync('chmod', ['0755', cosign]);
  const tp = join(into, 'teleport');
  mkdirSync(tp);
  execFileSync('tar', [
    '-xzf',
    join(mirrorRoot, `cdn.teleport.dev/teleport-v${versions.teleport}-linux-${arch}-bin.tar.gz`),
    '-C',
    tp,
  ]);
  return { flux: join(fluxDir, 'flux'), cosign, tbot: join(tp, 'teleport', 'tbot') };
}

const sha256File = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

function tbotConfig(proxy: string, dest: string, extra = ''): string {
  return [
    'version: v2',
    `proxy_server: ${proxy}`,
    'oneshot: true',
    'onboarding:',
    '  join_method: github',
    '  token: image-push-github-actions-sample-service',
    'storage:',
    '  type: memory',
    'services:',
    '  - type: workload-identity-jwt',
    '    destination:',
    '      type: directory',
    `      path: ${dest}`,
    '    selector:',
    '      name: image-push',
    '    audiences: [sts.amazonaws.com]',
    extra,
  ].join('\n');
}

after(() => {
  killAll();
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

// The two suites share nothing (separate control dirs), so they run side by side.
describe('stand-in CLIs', { concurrency: 2 }, () => {
  // Tests inside each suite share a control dir and the faults queue: one at a time.
  describe('offline: published assets and command lines', { concurrency: 1 }, () => {
    let mirror: string;
    let control: string;
    let assets: PublishedAsset[];
    let bin: Installed;
    let env: Record<string, string | undefined>;
    // No JWKS in this control dir: the stand-in Fulcio only decodes the token, so an unsigned one does.
    const unsignedToken = () =>
      new UnsecuredJWT({ email: 'me@example.com' })
        .setIssuer('https://issuer.example')
        .setAudience('sigstore')
        .setExpirationTime('5m')
        .encode();

    before(async () => {
      const root = tempDir('standins-offline-');
      mirror = join(root, 'mirror');
      control = join(root, 'control');
      assets = await publishStandins(mirror, { controlDir: control, versions: VERSIONS });
      bin = install(mirror, VERSIONS, HOST_ARCH, join(root, 'bin'));
      env = baseEnv();
    });

    test('assets sit at upstream paths and the checksum files match them', () => {
      const flux = `github.com/fluxcd/flux2/releases/download/v2.9.4`;
      const cosign = `github.com/sigstore/cosign/releases/download/v2.6.1`;
      const names = assets.map((a) => a.relativePath).sort();
      for (const arch of ['amd64', 'arm64']) {
        assert.ok(names.includes(`${flux}/flux_2.9.4_linux_${arch}.tar.gz`));
        assert.ok(names.includes(`${cosign}/cosign-linux-${arch}`));
        assert.ok(names.includes(`cdn.teleport.dev/teleport-v17.4.8-linux-${arch}-bin.tar.gz`));
        assert.ok(names.includes(`cdn.teleport.dev/teleport-v17.4.8-linux-${arch}-bin.tar.gz.sha256`));
      }
      for (const a of assets) assert.equal(a.sha256, sha256File(a.path), a.relativePath);
      const fluxSums = readFileSync(join(mirror, flux, 'flux_2.9.4_checksums.txt'), 'utf8');
      for (const arch of ['amd64', 'arm64']) {
        const file = `flux_2.9.4_linux_${arch}.tar.gz`;
        assert.match(fluxSums, new RegExp(`^${sha256File(join(mirror, flux, file))}  ${file}$`, 'm'));
        const c = `cosign-linux-${arch}`;
        assert.match(
          readFileSync(join(mirror, cosign, 'cosign_checksums.txt'), 'utf8'),
          new RegExp(`^${sha256File(join(mirror, cosign, c))}  ${c}$`, 'm'),
        );
        const t = `teleport-v17.4.8-linux-${arch}-bin.tar.gz`;
        assert.equal(
          readFileSync(join(mirror, 'cdn.teleport.dev', `${t}.sha256`), 'utf8'),
          `${sha256File(join(mirror, 'cdn.teleport.dev', t))}  ${t}\n`,
        );
      }
      assert.match(fluxSums, / {2}flux_2\.9\.4_darwin_arm64\.tar\.gz$/m, 'other platforms are listed too');
      const members = execFileSync(
        'tar',
        ['-tzf', join(mirror, 'cdn.teleport.dev/teleport-v17.4.8-linux-amd64-bin.tar.gz')],
        { encoding: 'utf8' },
      );
      for (const m of ['teleport/tbot', 'teleport/tctl', 'teleport/tsh'])
        assert.match(members, new RegExp(`^${m}$`, 'm'));
      assert.equal(
        execFileSync('tar', ['-tzf', join(mirror, flux, 'flux_2.9.4_linux_amd64.tar.gz')], {
          encoding: 'utf8',
        }),
        'flux\n',
      );
      assert.match(readFileSync(bin.flux, 'utf8'), /^#!\/usr\/bin\/env node\n/);
    });

    test('version outputs', async () => {
      const [fv, fvc, fvj, cv, tv] = await Promise.all([
        run(bin.flux, ['--version'], env),
        run(bin.flux, ['version', '--client'], env),
        run(bin.flux, ['version', '--client', '-o', 'json'], env),
        run(bin.cosign, ['version'], env),
        run(bin.tbot, ['version'], env),
      ]);
      assert.equal(fv.stdout, 'flux version 2.9.4\n');
      assert.equal(fvc.stdout, 'flux: v2.9.4\n');
      assert.deepEqual(JSON.parse(fvj.stdout), { flux: 'v2.9.4' });
      assert.match(cv.stdout, /^GitVersion:\s+v2\.6\.1$/m);
      assert.equal(cv.code, 0);
      assert.match(tv.stdout, /^Teleport v17\.4\.8 git:\S+ go1\.\d+/);
    });

    test('flux rejects what cobra rejects', async () => {
      const url = 'oci://127.0.0.1:1/x:1';
      const [unknown, short, noPath, noSource, badUrl, badNs, badProvider, cmd] = await Promise.all([
        run(
          bin.flux,
          ['push', 'artifact', url, '--path', '.', '--source', 's', '--revision', 'r', '--foo'],
          env,
        ),
        run(bin.flux, ['push', 'artifact', url, '-z'], env),
        run(bin.flux, ['push', 'artifact', url, '--source', 's', '--revision', 'r'], env),
        run(bin.flux, ['push', 'artifact', url, '--path', '.', '--revision', 'r'], env),
        run(
          bin.flux,
          ['push', 'artifact', 'ghcr.io/x:1', '--path', '.', '--source', 's', '--revision', 'r'],
          env,
        ),
        run(bin.flux, ['push', 'artifact', url, '-n', 'Bad_NS'], env),
        run(bin.flux, ['push', 'artifact', url, '--provider', 'ibm'], env),
        run(bin.flux, ['frobnicate'], env),
      ]);
      assert.deepEqual([unknown.code, unknown.stderr], [1, '✗ unknown flag: --foo\n']);
      assert.equal(short.stderr, "✗ unknown shorthand flag: 'z' in -z\n");
      assert.deepEqual([noPath.code, noPath.stderr], [1, '✗ invalid path ""\n']);
      assert.equal(noSource.stderr, '✗ --source is required\n');
      assert.equal(badUrl.stderr, "✗ URL must be in format 'oci://<domain>/<org>/<repo>'\n");
      assert.equal(badNs.stderr, '✗ namespace must be a valid DNS label: "Bad_NS"\n');
      assert.match(
        badProvider.stderr,
        /invalid argument "ibm" for "--provider" flag: source OCI provider 'ibm' is not supported/,
      );
      assert.equal(cmd.stderr, '✗ unknown command "frobnicate" for "flux"\n');
      for (const r of [short, noSource, badUrl, badNs, badProvider, cmd]) assert.equal(r.code, 1);
      const missingDir = await run(bin.flux, ['pull', 'artifact', url, '--output', '/nonexistent/dir'], env);
      assert.match(missingDir.stderr, /^✗ invalid output path "\/nonexistent\/dir": stat/);
    });

    test('cosign rejects what cosign rejects', async () => {
      const img = `127.0.0.1:1/x@sha256:${'a'.repeat(64)}`;
      const token = unsignedToken();
      const [noYes, noIdentity, noIssuer, unknown, noArgs, v3ish] = await Promise.all([
        run(bin.cosign, ['sign', '--identity-token', token, img], env),
        run(bin.cosign, ['verify', '--certificate-oidc-issuer', 'https://x', img], env),
        run(bin.cosign, ['verify', '--certificate-identity', 'me', img], env),
        run(bin.cosign, ['verify', '--frob', img], env),
        run(bin.cosign, ['sign', '--yes'], env),
        run(bin.cosign, ['sign', '--yes', '--new-bundle-format', img], env),
      ]);
      assert.equal(noYes.code, 1);
      assert.match(noYes.stderr, /^Error: signing \[.*\]: user declined the prompt$/m);
      assert.match(
        noIdentity.stderr,
        /^Error: --certificate-identity or --certificate-identity-regexp is required for verification in keyless mode$/m,
      );
      assert.match(
        noIssuer.stderr,
        /^Error: --certificate-oidc-issuer or --certificate-oidc-issuer-regexp is required/m,
      );
      assert.match(unknown.stderr, /^Error: unknown flag: --frob$/m);
      assert.match(noArgs.stderr, /^Error: requires at least 1 arg\(s\), only received 0$/m);
      assert.match(v3ish.stderr, /only the tag-based signature format/);
      for (const r of [noIdentity, noIssuer, unknown, noArgs, v3ish]) assert.equal(r.code, 1);
    });

    test('tbot rejects bad configs and both TELEPORT_PROXY and TELEPORT_AUTH_SERVER', async () => {
      const dir = tempDir('tbot-cfg-');
      const write = (name: string, text: string) => {
        writeFileSync(join(dir, name), text);
        return join(dir, name);
      };
      const good = tbotConfig('127.0.0.1:1', join(dir, 'out'));
      const v1 = write('v1.yaml', good.replace('version: v2', 'version: v1'));
      const v9 = write('v9.yaml', good.replace('version: v2', 'version: v9'));
      const field = write('field.yaml', `${good}\nfrobnicate: true\n`);
      const svc = write('svc.yaml', good.replace('workload-identity-jwt', 'workload-identity-nope'));
      const noAud = write('aud.yaml', good.replace('    audiences: [sts.amazonaws.com]', ''));
      const ok = write('ok.yaml', good);
      const [r1, r9, rf, rs, ra, both, flag] = await Promise.all([
        run(bin.tbot, ['start', '-c', v1], env),
        run(bin.tbot, ['start', '-c', v9], env),
        run(bin.tbot, ['start', '-c', field], env),
        run(bin.tbot, ['start', '-c', svc], env),
        run(bin.tbot, ['start', '-c', noAud], env),
        run(bin.tbot, ['start', '-c', ok], {
          ...env,
          TELEPORT_PROXY: '127.0.0.1:1',
          TELEPORT_AUTH_SERVER: '127.0.0.1:1',
        }),
        run(bin.tbot, ['start', '-c', ok, '--frob'], env),
      ]);
      assert.match(r1.stderr, /^ERROR: .*version: v2/m);
      assert.match(r9.stderr, /^ERROR: loading bot config from path \S+: unrecognized config version "v9"$/m);
      assert.match(
        rf.stderr,
        /^ERROR: loading bot config from path \S+: failed parsing config file: yaml: unmarshal errors: {2}line \d+: field frobnicate not found in type config\.BotConfig$/m,
      );
      assert.match(
        rs.stderr,
        /^ERROR: loading bot config from path \S+: failed parsing config file: unrecognized service type \(workload-identity-nope\)$/m,
      );
      assert.match(
        ra.stderr,
        /^ERROR: validating merged bot config: validating service\[0\]: audiences: must have at least one value$/m,
      );
      assert.match(
        both.stderr,
        /^ERROR: either a proxy or auth address must be set using --proxy-server, --auth-server or configuration$/m,
      );
      assert.match(flag.stderr, /^ERROR: unknown long flag '--frob'$/m);
      for (const r of [r1, r9, rf, rs, ra, both, flag]) assert.equal(r.code, 1);
    });

    test('tbot environment: TBOT_CONFIG next to --config, TELEPORT_BOT_TOKEN, TELEPORT_PROXY, TBOT_DEBUG; configEnv logged', async () => {
      const dir = tempDir('tbot-env-');
      const good = tbotConfig('127.0.0.1:1', join(dir, 'out'));
      const ok = join(dir, 'ok.yaml');
      writeFileSync(ok, good);
      const b64 = (text: string) => Buffer.from(text).toString('base64');
      const [both, bothViaPath, emptyIgnored, token, proxy, badDebug, inline, badB64] = await Promise.all([
        run(bin.tbot, ['start', '--config', ok], { ...env, TBOT_CONFIG: b64(good) }),
        run(bin.tbot, ['start'], { ...env, TBOT_CONFIG: b64(good), TBOT_CONFIG_PATH: ok }),
        // Empty variables are unset for kingpin; TELEPORT_BOT_TOKEN then ends the run early and quickly.
        run(bin.tbot, ['start', '-c', ok], {
          ...env,
          TBOT_CONFIG: '',
          TELEPORT_AUTH_SERVER: '',
          TBOT_DEBUG: '',
          TELEPORT_BOT_TOKEN: 'other-token',
        }),
        run(bin.tbot, ['start', '-c', ok], { ...env, TELEPORT_BOT_TOKEN: 'other-token' }),
        run(bin.tbot, ['start', '-c', ok], {
          ...env,
          TELEPORT_PROXY: '127.0.0.2:2',
          TELEPORT_BOT_TOKEN: 'x',
          TBOT_CONFIG_PATH: join(dir, 'ignored.yaml'),
        }),
        run(bin.tbot, ['start', '-c', ok], { ...env, TBOT_DEBUG: 'yes' }),
        run(bin.tbot, ['start'], { ...env, TBOT_CONFIG: b64(good.replace('version: v2', 'version: v9')) }),
        run(bin.tbot, ['start'], { ...env, TBOT_CONFIG: 'YWJj!' }),
      ]);
      assert.match(both.stderr, /^ERROR: cannot specify both config and config-string$/m);
      assert.match(bothViaPath.stderr, /^ERROR: cannot specify both config and config-string$/m);
      assert.match(emptyIgnored.stderr, /^ERROR: join method must be provided$/m);
      // The token variable replaces the whole onboarding section, join_method: github included.
      assert.match(token.stderr, /WARN\s+\[TBOT\]\s+CLI parameters are overriding join configuration/);
      assert.match(token.stderr, /^ERROR: join method must be provided$/m);
      assert.match(
        proxy.stderr,
        /CLI parameters are overriding configuration flag:proxy-server config_value:127\.0\.0\.1:1 cli_value:127\.0\.0\.2:2/,
      );
      assert.match(badDebug.stderr, /^ERROR: strconv\.ParseBool: parsing "yes": invalid syntax$/m);
      assert.match(
        inline.stderr,
        /^ERROR: loading bot config from base64 encoded string: unrecognized config version "v9"$/m,
      );
      assert.match(
        badB64.stderr,
        /^ERROR: loading bot config from base64 encoded string: failed to decode base64 encoded config: illegal base64 data at input byte 4$/m,
      );
      for (const r of [both, bothViaPath, emptyIgnored, token, proxy, badDebug, inline, badB64]) {
        assert.equal(r.code, 1, r.stderr);
      }

      const calls = readCalls(control, 'tbot');
      const forArgs = (argv: string[], has: string) =>
        calls.find((c) => JSON.stringify(c.argv) === JSON.stringify(argv) && c.env.includes(has));
      const viaPath = forArgs(['start'], 'TBOT_CONFIG_PATH');
      assert.deepEqual(viaPath?.configEnv, ['TBOT_CONFIG_PATH', 'TBOT_CONFIG']);
      const overridden = forArgs(['start', '-c', ok], 'TELEPORT_PROXY');
      assert.ok(overridden?.env.includes('TBOT_CONFIG_PATH'), 'env lists every variable that is set');
      assert.deepEqual(
        overridden?.configEnv,
        ['TELEPORT_PROXY', 'TELEPORT_BOT_TOKEN'],
        'configEnv only those that took effect: -c beats TBOT_CONFIG_PATH',
      );
      const empties = forArgs(['start', '-c', ok], 'TELEPORT_AUTH_SERVER');
      assert.deepEqual(empties?.env.filter((n) => n.startsWith('TBOT_')).sort(), [
        'TBOT_CONFIG',
        'TBOT_DEBUG',
      ]);
      assert.deepEqual(empties?.configEnv, ['TELEPORT_BOT_TOKEN'], 'empty variables take no effect');
      assert.equal(
        calls.find((c) => c.env.includes('TBOT_DEBUG') && !c.env.includes('TELEPORT_BOT_TOKEN'))?.configEnv,
        undefined,
        'no configEnv when the command line did not parse',
      );
    });

    test("cosign sign token sources in cosign's order: flag, then SIGSTORE_ID_TOKEN before the runner's OIDC variables", async () => {
      const img = `127.0.0.1:1/x@sha256:${'c'.repeat(64)}`;
      const token = unsignedToken();
      // A runner's OIDC variables pointing nowhere: any attempt to use them fails loudly.
      const runner = {
        ACTIONS_ID_TOKEN_REQUEST_URL: 'http://127.0.0.1:1/token?api-version=2.0',
        ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'runner-bearer',
      };
      const sign = (args: string[], extra: Record<string, string>) =>
        run(bin.cosign, ['sign', '--yes', ...args, img], { ...env, ...extra });
      const [envvar, github, flag, empty, disabled, picked, invalid, none] = await Promise.all([
        sign(['--annotations', 'case=envvar'], { ...runner, SIGSTORE_ID_TOKEN: token }),
        sign(['--annotations', 'case=github'], runner),
        sign(['--annotations', 'case=flag', '--identity-token', token], {
          ...runner,
          SIGSTORE_ID_TOKEN: 'x',
        }),
        sign(['--annotations', 'case=empty'], { SIGSTORE_ID_TOKEN: '' }),
        sign(['--annotations', 'case=disabled', '--oidc-disable-ambient-providers'], {
          SIGSTORE_ID_TOKEN: token,
        }),
        sign(['--annotations', 'case=picked', '--oidc-provider', 'github-actions'], {
          ...runner,
          SIGSTORE_ID_TOKEN: token,
        }),
        sign(['--annotations', 'case=invalid', '--oidc-provider', 'nope'], { SIGSTORE_ID_TOKEN: token }),
        sign(['--annotations', 'case=none'], {}),
      ]);
      // With a usable token the run gets as far as the (absent) registry.
      for (const r of [envvar, flag]) {
        assert.doesNotMatch(
          r.stderr,
          /fetching ambient OIDC credentials/,
          'the runner endpoint was not asked',
        );
        assert.match(r.stderr, /Error: signing \[.*\]: .*connection refused/);
      }
      for (const r of [github, picked]) {
        assert.match(r.stderr, /reading id token: fetching ambient OIDC credentials: .*connection refused/);
      }
      for (const r of [empty, disabled, none]) assert.match(r.stderr, /no identity token/);
      assert.match(invalid.stderr, /reading id token: getting provider: nope is not a valid provider/);
      for (const r of [envvar, github, flag, empty, disabled, picked, invalid, none]) assert.equal(r.code, 1);

      const sources = Object.fromEntries(
        readCalls(control, 'cosign')
          .filter((c) => c.command === 'sign' && c.argv.some((a) => a.startsWith('case=')))
          .map((c) => [c.argv.find((a) => a.startsWith('case='))!.slice(5), c.tokenSource]),
      );
      assert.deepEqual(sources, {
        envvar: 'envvar',
        github: 'github-actions',
        flag: 'flag',
        empty: 'envvar',
        disabled: 'none',
        picked: 'github-actions',
        invalid: 'none',
        none: 'none',
      });
    });

    test('a binary of the other architecture refuses to run', async () => {
      const other = install(mirror, VERSIONS, OTHER_ARCH, join(tempDir('standins-other-'), 'bin'));
      const r = await run(other.flux, ['--version'], env);
      assert.equal(r.code, 126);
      assert.match(r.stderr, /Exec format error/);
    });

    test('faults: fail and hang are consumed in order; calls are logged without secrets', async () => {
      clearToolFaults(control);
      addToolFault(control, { tool: 'flux', command: 'push', mode: 'fail', message: 'boom' });
      addToolFault(control, { tool: 'flux', mode: 'hang', remaining: 1 });
      addToolFault(control, { tool: 'cosign', command: 'verify', mode: 'verify-fail', exitCode: 10 });
      const args = [
        'push',
        'artifact',
        'oci://127.0.0.1:1/x:1',
        '--path',
        '.',
        '--source',
        's',
        '--revision',
        'r',
      ];
      const failed = await run(bin.flux, args, env);
      assert.deepEqual([failed.code, failed.stderr], [1, '✗ boom\n']);
      let hung: ChildProcess | undefined;
      const hanging = run(bin.flux, args, env, { onSpawn: (c) => (hung = c) });
      await new Promise((resolve) => setTimeout(resolve, 800));
      assert.equal(hung?.exitCode, null, 'a hung tool is still running');
      process.kill(hung!.pid!, 'SIGTERM');
      assert.equal((await hanging).signal, 'SIGTERM');
      assert.deepEqual(
        readToolFaults(control).map((f) => f.tool),
        ['cosign'],
        'used faults are dropped',
      );
      const ver = await run(
        bin.cosign,
        [
          'verify',
          '--certificate-identity',
          'x',
          '--certificate-oidc-issuer',
          'y',
          `127.0.0.1:1/x@sha256:${'b'.repeat(64)}`,
        ],
        env,
      );
      assert.deepEqual([ver.code, /Error: no signatures found/.test(ver.stderr)], [10, true]);
      assert.deepEqual(readToolFaults(control), []);
      await run(
        bin.cosign,
        ['sign', '--yes', '--identity-token', 'SECRET-TOKEN', '--registry-password=SECRET-PW', 'x'],
        env,
      );
      const calls = readCalls(control);
      const text = JSON.stringify(calls);
      assert.ok(!text.includes('SECRET'), 'no secret value reaches calls.jsonl');
      const sign = calls.filter((c) => c.tool === 'cosign' && c.command === 'sign').pop();
      assert.deepEqual(sign?.argv, [
        'sign',
        '--yes',
        '--identity-token',
        '***',
        '--registry-password=***',
        'x',
      ]);
      assert.ok(calls.some((c) => c.tool === 'flux' && c.command === 'push artifact'));
    });

    test('tarball: lexical order, mode kept, ids and times zeroed, symlinks and specials skipped, default ignores', () => {
      const dir = tempDir('tarball-');
      mkdirSync(join(dir, 'b'));
      writeFileSync(join(dir, 'b', 'z.yaml'), 'z');
      writeFileSync(join(dir, 'a.yaml'), 'a');
      writeFileSync(join(dir, 'run.sh'), '#!/bin/sh\n', { mode: 0o755 });
      writeFileSync(join(dir, 'logo.png'), 'png');
      mkdirSync(join(dir, '.git'));
      writeFileSync(join(dir, '.git', 'HEAD'), 'ref');
      symlinkSync('a.yaml', join(dir, 'link.yaml'));
      execFileSync('mkfifo', [join(dir, 'fifo')]);
      const ignore = [
        '.git/',
        '.gitignore',
        '.gitmodules',
        '.gitattributes',
        '*.jpg',
        '*.jpeg',
        '*.gif',
        '*.png',
        '*.wmv',
        '*.flv',
        '*.tar.gz',
        '*.zip',
      ];
      const entries = collectEntries(dir, { ignorePaths: ignore, resolveSymlinks: false });
      assert.deepEqual(
        entries.map((e) => e.name),
        ['.', 'a.yaml', 'b', 'b/z.yaml', 'run.sh'],
      );
      const tarFile = join(tempDir('tar-out-'), 'x.tar');
      writeFileSync(tarFile, tarEntries(entries));
      const listing = execFileSync('tar', ['--numeric-owner', '--full-time', '-tvf', tarFile], {
        encoding: 'utf8',
      });
      assert.match(listing, /^-rwxr-xr-x 0\/0 +\d+ 1970-01-01 00:00:00 run\.sh$/m);
      assert.match(listing, /^drwx.* 0\/0 +0 1970-01-01 00:00:00 b\/?$/m);
      const resolved = collectEntries(dir, { ignorePaths: ignore, resolveSymlinks: true }).map((e) => e.name);
      assert.ok(resolved.includes('link.yaml'), '--resolve-symlinks packs the target');
    });
  });

  describe('in the test world: real registry round trip', { concurrency: 1 }, () => {
    let world: World;
    let bin: Installed;
    let env: Record<string, string | undefined>;
    let repoHost: string;
    let handler: NodeHttpHandler;
    const repo = 'svc-manifests';
    let identity: string;

    const rawManifest = async (ref: string) => {
      const res = await fetch(`${world.registry(world.region)}/v2/${repo}/manifests/${ref}`, {
        headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
      });
      return res.status === 200
        ? { body: Buffer.from(await res.arrayBuffer()), digest: res.headers.get('docker-content-digest') }
        : undefined;
    };

    before(async () => {
      world = await startWorld();
      assert.ok(world.standinsPublished, 'startWorld publishes the stand-ins');
      const root = tempDir('standins-world-');
      bin = install(world.mirrorRoot, world.standinVersions, HOST_ARCH, join(root, 'bin'));
      const docker = join(root, 'docker');
      mkdirSync(docker);
      const w = world.env();
      // The tools get SSL_CERT_FILE (Go's trust), never NODE_EXTRA_CA_CERTS.
      env = baseEnv({
        SSL_CERT_FILE: w['SSL_CERT_FILE']!,
        ACTIONS_ID_TOKEN_REQUEST_URL: w['ACTIONS_ID_TOKEN_REQUEST_URL']!,
        ACTIONS_ID_TOKEN_REQUEST_TOKEN: w['ACTIONS_ID_TOKEN_REQUEST_TOKEN']!,
        DOCKER_CONFIG: docker,
      });
      repoHost = world.registryHost;
      world.createRepository(world.region, repo, 'IMMUTABLE_WITH_EXCLUSION', ['sha256-*']);
      identity = `https://github.com/${world.oidc.claims()['job_workflow_ref']}`;

      // tbot → jwt_svid → STS → ECR auth token → docker config, as the action chains them.
      const out = join(root, 'tbot-out');
      writeFileSync(join(root, 'tbot.yaml'), tbotConfig(world.teleportFqdn, out));
      const tb = await run(bin.tbot, ['start', '-c', join(root, 'tbot.yaml')], env);
      assert.equal(tb.code, 0, tb.stderr);
      assert.match(tb.stderr, /INFO \[TBOT\]\s+One-shot mode completed/);
      const jwt = readFileSync(join(out, 'jwt_svid'), 'utf8');
      assert.deepEqual(decodeJwt(jwt).aud, ['sts.amazonaws.com']);
      handler = new NodeHttpHandler({ httpsAgent: new Agent({ ca: readFileSync(world.caFile) }) });
      const sts = new STSClient({
        region: world.region,
        endpoint: world.stsEndpoint,
        requestHandler: handler,
      });
      const assumed = await sts.send(
        new AssumeRoleWithWebIdentityCommand({
          RoleArn: world.roleArn,
          RoleSessionName: 'standin-selftest',
          WebIdentityToken: jwt,
        }),
      );
      const c = assumed.Credentials!;
      const ecr = new ECRClient({
        region: world.region,
        endpoint: world.ecrEndpoint,
        requestHandler: handler,
        credentials: {
          accessKeyId: c.AccessKeyId!,
          secretAccessKey: c.SecretAccessKey!,
          sessionToken: c.SessionToken!,
        },
      });
      const token = (await ecr.send(new GetAuthorizationTokenCommand({}))).authorizationData?.[0]
        ?.authorizationToken;
      writeFileSync(join(docker, 'config.json'), JSON.stringify({ auths: { [repoHost]: { auth: token } } }));
    });

    after(async () => {
      killAll();
      await world?.stop();
      handler?.destroy();
    });

    const fluxPush = (tag: string, dir: string, extra: string[] = []) =>
      run(
        bin.flux,
        [
          'push',
          'artifact',
          `oci://${repoHost}/${repo}:${tag}`,
          '--path',
          dir,
          '--source',
          'https://github.com/o/r',
          '--revision',
          `${tag}@sha1:abc`,
          ...extra,
        ],
        env,
      );

    /** Pushes one small YAML file as `repo:tag`; its digest, and the image by that digest. */
    const pushFile = async (tag: string, file: string) => {
      const src = tempDir(`src-${tag}-`);
      writeFileSync(join(src, file), 'a: 1\n');
      const pushed = await fluxPush(tag, src, ['--output', 'json']);
      assert.equal(pushed.code, 0, pushed.stderr);
      const digest = (JSON.parse(pushed.stdout) as Record<string, string>)['digest']!;
      return { digest, image: `${repoHost}/${repo}@${digest}` };
    };

    test('flux push/pull, cosign sign/verify against the registry', async () => {
      const src = tempDir('src-');
      mkdirSync(join(src, 'sub'));
      writeFileSync(join(src, 'a.yaml'), 'a: 1\n');
      writeFileSync(join(src, 'sub', 'b.yaml'), 'b: 2\n');
      symlinkSync('a.yaml', join(src, 'link.yaml'));
      const other = tempDir('src2-');
      writeFileSync(join(other, 'c.yaml'), 'c: 3\n');

      const [push, push2, noTls] = await Promise.all([
        fluxPush('1.2.3', src, ['--output', 'json']),
        fluxPush('2.0.0', other, ['--output', 'json', '--reproducible']),
        run(
          bin.flux,
          [
            'push',
            'artifact',
            `oci://${repoHost}/${repo}:9.9.9`,
            '--path',
            src,
            '--source',
            's',
            '--revision',
            'r',
          ],
          {
            ...env,
            SSL_CERT_FILE: undefined,
            SSL_CERT_DIR: undefined,
            NODE_EXTRA_CA_CERTS: world.caFile,
          },
          { timeoutMs: 10_000 },
        ),
      ]);
      assert.equal(push.code, 0, push.stderr);
      assert.equal(push.stderr, '', '--output json logs nothing');
      const info = JSON.parse(push.stdout) as Record<string, string>;
      assert.match(push.stdout, /^\{\n {2}"url": "oci:\/\//);
      assert.deepEqual(Object.keys(info), ['url', 'repository', 'tag', 'digest']);
      assert.equal(info['repository'], `${repoHost}/${repo}`);
      assert.equal(info['tag'], '1.2.3');
      assert.equal(info['url'], `oci://${repoHost}/${repo}@${info['digest']}`);
      assert.equal(
        await world.tagDigest(world.region, repo, '1.2.3'),
        info['digest'],
        'JSON digest is the registry digest',
      );
      assert.equal(noTls.code, 1);
      assert.match(
        noTls.stderr,
        /x509: certificate signed by unknown authority/,
        'NODE_EXTRA_CA_CERTS is not trusted by Go tools',
      );

      const manifest = JSON.parse((await rawManifest('1.2.3'))!.body.toString('utf8'));
      assert.equal(manifest.mediaType, 'application/vnd.oci.image.manifest.v1+json');
      assert.equal(manifest.config.mediaType, 'application/vnd.cncf.flux.config.v1+json');
      assert.deepEqual(
        manifest.layers.map((l: { mediaType: string }) => l.mediaType),
        ['application/vnd.cncf.flux.content.v1.tar+gzip'],
      );
      assert.equal(manifest.annotations['org.opencontainers.image.source'], 'https://github.com/o/r');
      assert.equal(manifest.annotations['org.opencontainers.image.revision'], '1.2.3@sha1:abc');
      assert.match(
        manifest.annotations['org.opencontainers.image.created'],
        /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/,
      );
      const m2 = JSON.parse((await rawManifest('2.0.0'))!.body.toString('utf8'));
      assert.equal(m2.annotations['org.opencontainers.image.created'], '1970-01-01T00:00:00Z');
      const layer = await fetch(
        `${world.registry(world.region)}/v2/${repo}/blobs/${manifest.layers[0].digest}`,
      );
      const layerFile = join(tempDir('layer-'), 'l.tgz');
      writeFileSync(layerFile, Buffer.from(await layer.arrayBuffer()));
      const members = execFileSync('tar', ['-tzf', layerFile], { encoding: 'utf8' }).trim().split('\n');
      assert.deepEqual(members, ['.', 'a.yaml', 'sub', 'sub/b.yaml'], 'symlink skipped, lexical order');

      const digest = info['digest']!;
      const digest2 = (JSON.parse(push2.stdout) as Record<string, string>)['digest']!;
      const pulled = tempDir('pulled-');
      const [again, pull, sign] = await Promise.all([
        fluxPush('1.2.3', src, ['--output', 'json']),
        run(bin.flux, ['pull', 'artifact', `oci://${repoHost}/${repo}@${digest}`, '--output', pulled], env),
        run(
          bin.cosign,
          [
            'sign',
            '--yes',
            '--new-bundle-format=false',
            '--use-signing-config=false',
            `${repoHost}/${repo}@${digest}`,
          ],
          env,
        ),
      ]);
      assert.equal(again.code, 1);
      assert.match(
        again.stderr,
        /^✗ pushing artifact failed: .*TAG_INVALID/m,
        'a 400 is not retried and surfaces',
      );
      assert.equal(pull.code, 0, pull.stderr);
      assert.equal(pull.stdout, '');
      assert.match(pull.stderr, /✔ revision 1\.2\.3@sha1:abc/);
      assert.equal(readFileSync(join(pulled, 'sub', 'b.yaml'), 'utf8'), 'b: 2\n');
      assert.equal(sign.code, 0, sign.stderr);

      const sigTag = `${digest.replace(':', '-')}.sig`;
      const sig = JSON.parse((await rawManifest(sigTag))!.body.toString('utf8'));
      assert.equal(sig.layers.length, 1);
      assert.equal(sig.layers[0].mediaType, 'application/vnd.dev.cosign.simplesigning.v1+json');
      assert.deepEqual(Object.keys(sig.layers[0].annotations).sort(), [
        'dev.cosignproject.cosign/signature',
        'dev.sigstore.cosign/bundle',
        'dev.sigstore.cosign/certificate',
        'dev.sigstore.cosign/chain',
      ]);
      const payload = await (
        await fetch(`${world.registry(world.region)}/v2/${repo}/blobs/${sig.layers[0].digest}`)
      ).text();
      assert.equal(
        payload,
        `{"critical":{"identity":{"docker-reference":"${repoHost}/${repo}"},"image":{"docker-manifest-digest":"${digest}"},"type":"cosign container image signature"},"optional":null}`,
      );

      const verifyArgs = (id: string, image: string) => [
        'verify',
        '--certificate-identity',
        id,
        '--certificate-oidc-issuer',
        world.oidc.issuer,
        image,
      ];
      const [ok, wrong, none, missing] = await Promise.all([
        run(bin.cosign, verifyArgs(identity, `${repoHost}/${repo}@${digest}`), env),
        run(bin.cosign, verifyArgs('https://github.com/someone/else', `${repoHost}/${repo}@${digest}`), env),
        run(bin.cosign, verifyArgs(identity, `${repoHost}/${repo}@${digest2}`), env),
        run(bin.cosign, verifyArgs(identity, `${repoHost}/${repo}:7.7.7`), env),
      ]);
      assert.equal(ok.code, 0, ok.stderr);
      assert.match(ok.stderr, new RegExp(`^Verification for ${repoHost}/${repo}@${digest} --$`, 'm'));
      const verified = JSON.parse(ok.stdout) as {
        critical: Record<string, Record<string, string>>;
        optional: Record<string, unknown>;
      }[];
      assert.equal(verified.length, 1);
      assert.equal(verified[0]!.critical['image']!['docker-manifest-digest'], digest);
      assert.equal(verified[0]!.optional['Subject'], identity);
      assert.equal(verified[0]!.optional['Issuer'], world.oidc.issuer);
      assert.equal(wrong.code, 12);
      assert.match(
        wrong.stderr,
        /none of the expected identities matched what was in the certificate, got subjects \[https:\/\/github\.com\/.*\] with issuer https:\/\/token\.actions\.githubusercontent\.com/,
      );
      assert.equal(none.code, 10);
      assert.match(none.stderr, /^Error: no signatures found$/m);
      assert.equal(missing.code, 11);

      // A second signature appends a layer and re-PUTs the tag (allowed by the sha256-* exclusion).
      const sign2 = await run(bin.cosign, ['sign', '--yes', `${repoHost}/${repo}@${digest}`], env);
      assert.equal(sign2.code, 0, sign2.stderr);
      assert.equal(JSON.parse((await rawManifest(sigTag))!.body.toString('utf8')).layers.length, 2);
    });

    test('cosign: SIGSTORE_ID_TOKEN beats the runner OIDC variables; verify exits 10/11/12 as v2.6.x does; digests keep their colon', async () => {
      const { digest, image } = await pushFile('6.0.0', 'c.yaml');
      const forms = digestRefTarget(world.region);
      const formsBefore = [world.counters.get(forms, 'colon'), world.counters.get(forms, '%3A')];

      // The runner's OIDC variables stay in the environment; cosign still takes SIGSTORE_ID_TOKEN first.
      const otherRef = 'maestra-io/other/.github/workflows/release.yml@refs/heads/main';
      const other = `https://github.com/${otherRef}`;
      const envToken = await world.oidc.mint('sigstore', { job_workflow_ref: otherRef });
      const runnerTokens = world.counters.get('oidc', 'token');
      const signed = await run(bin.cosign, ['sign', '--yes', image], { ...env, SIGSTORE_ID_TOKEN: envToken });
      assert.equal(signed.code, 0, signed.stderr);
      assert.equal(
        world.counters.get('oidc', 'token'),
        runnerTokens,
        'cosign never asked the runner for a token',
      );
      const signCall = readCalls(world.controlDir, 'cosign')
        .filter((c) => c.command === 'sign')
        .pop();
      assert.equal(signCall?.tokenSource, 'envvar');
      assert.ok(signCall?.env.includes('ACTIONS_ID_TOKEN_REQUEST_URL'));

      const verify = (id: string, target: string, extra: string[] = []) =>
        run(
          bin.cosign,
          [
            'verify',
            '--certificate-identity',
            id,
            '--certificate-oidc-issuer',
            world.oidc.issuer,
            ...extra,
            target,
          ],
          env,
        );
      const [byEnvIdentity, byRunnerIdentity, missingDigest, missingTag] = await Promise.all([
        verify(other, image),
        verify(identity, image),
        verify(identity, `${repoHost}/${repo}@sha256:${'d'.repeat(64)}`),
        verify(identity, `${repoHost}/${repo}:9.9.9`),
      ]);
      assert.equal(byEnvIdentity.code, 0, byEnvIdentity.stderr);
      assert.equal(byRunnerIdentity.code, 12);
      // A digest is never looked up as a tag: a missing one has no signatures (10), not a missing tag (11).
      assert.equal(missingDigest.code, 10);
      assert.match(missingDigest.stderr, /^Error: no signatures found$/m);
      assert.equal(missingTag.code, 11);
      assert.match(
        missingTag.stderr,
        /^Error: image tag not found: GET https:\/\/\S+\/manifests\/9\.9\.9: /m,
      );

      // A key-only signature: the certificate (and chain) annotations gone from the signature layer.
      const sigTag = `${digest.replace(':', '-')}.sig`;
      const rewrite = async (drop: string[]) => {
        const current = JSON.parse((await rawManifest(sigTag))!.body.toString('utf8')) as {
          mediaType: string;
          layers: { annotations: Record<string, string> }[];
        };
        for (const layer of current.layers) for (const key of drop) delete layer.annotations[key];
        const res = await fetch(`${world.registry(world.region)}/v2/${repo}/manifests/${sigTag}`, {
          method: 'PUT',
          headers: { 'content-type': current.mediaType },
          body: JSON.stringify(current),
        });
        assert.equal(res.status, 201, await res.text());
      };
      await rewrite(['dev.sigstore.cosign/certificate', 'dev.sigstore.cosign/chain']);
      // The same world's keys in a 2.6.1 binary, for the behaviour before #4624.
      const versions261 = { ...world.standinVersions, cosign: '2.6.1' };
      const oldRoot = tempDir('standins-261-');
      await publishStandins(join(oldRoot, 'mirror'), { controlDir: world.controlDir, versions: versions261 });
      const cosign261 = install(join(oldRoot, 'mirror'), versions261, HOST_ARCH, join(oldRoot, 'bin')).cosign;
      const [keyOnly, keyOnlyNoTlog, keyOnly261] = await Promise.all([
        verify(other, image),
        verify(other, image, ['--insecure-ignore-tlog']),
        run(
          cosign261,
          ['verify', '--certificate-identity', other, '--certificate-oidc-issuer', world.oidc.issuer, image],
          env,
        ),
      ]);
      for (const r of [keyOnly, keyOnlyNoTlog, keyOnly261]) {
        assert.equal(r.code, 12, 'ErrNoCertificateFoundOnSignature is folded into no matching signatures');
      }
      assert.match(keyOnly261.stderr, /^Error: no matching signatures: no certificate found on signature$/m);
      // From 2.6.2 (#4624) the bundle is bound to the signature's key first, which needs the certificate.
      assert.equal(world.standinVersions.cosign, '2.99.0');
      assert.match(
        keyOnly.stderr,
        /^Error: no matching signatures: error verifying bundle: nil certificate provided$/m,
      );
      assert.match(
        keyOnlyNoTlog.stderr,
        /^Error: no matching signatures: no certificate found on signature$/m,
      );
      await rewrite(['dev.sigstore.cosign/bundle']);
      const noBundle = await verify(other, image);
      assert.equal(noBundle.code, 12);
      assert.match(noBundle.stderr, /^Error: no matching signatures: nil certificate provided$/m);

      // The stand-ins' requests by digest (sign's entity check, flux pull) spell the colon out.
      const pulled = tempDir('pulled-codes-');
      const pull = await run(bin.flux, ['pull', 'artifact', `oci://${image}`, '--output', pulled], env);
      assert.equal(pull.code, 0, pull.stderr);
      assert.ok(world.counters.get(forms, 'colon') >= formsBefore[0]! + 2, 'sign and pull asked by digest');
      assert.equal(world.counters.get(forms, '%3A'), formsBefore[1], 'never percent-encoded');

      // The front serves the percent-encoded form too, and counts it apart.
      const docker = JSON.parse(readFileSync(join(env['DOCKER_CONFIG']!, 'config.json'), 'utf8')) as {
        auths: Record<string, { auth: string }>;
      };
      const front = (method: string, ref: string) => {
        const url = `https://${repoHost}/v2/${repo}/manifests/${ref}`;
        // The path as written: only the URL's own pathname, no query, the percent-encoding as the test spelt it.
        return httpsCall(url, {
          method,
          path: new URL(url).pathname,
          headers: {
            authorization: `Basic ${docker.auths[repoHost]!.auth}`,
            accept: 'application/vnd.oci.image.manifest.v1+json',
          },
          ca: readFileSync(world.caFile, 'utf8'),
        });
      };
      const [literal, encoded, encodedHead] = await Promise.all([
        front('GET', digest),
        front('GET', digest.replace(':', '%3A')),
        front('HEAD', digest.replace(':', '%3a')),
      ]);
      assert.equal(literal.status, 200);
      assert.equal(encoded.status, 200);
      assert.deepEqual(encoded.body, literal.body);
      assert.equal(encodedHead.status, 200);
      assert.equal(encodedHead.headers['docker-content-digest'], digest);
      assert.equal(world.counters.get(forms, '%3A'), formsBefore[1]! + 2);
    });

    test('cosign: COSIGN_REPOSITORY moves where sign writes and verify reads the signatures', async () => {
      const { digest, image } = await pushFile('6.1.0', 'e.yaml');
      const sigTag = `${digest.replace(':', '-')}.sig`;
      world.createRepository(world.region, 'elsewhere-signatures');
      const elsewhere = { ...env, COSIGN_REPOSITORY: `${repoHost}/elsewhere-signatures` };
      const signed = await run(bin.cosign, ['sign', '--yes', image], elsewhere);
      assert.equal(signed.code, 0, signed.stderr);
      assert.match(signed.stderr, new RegExp(`Pushing signature to: ${repoHost}/elsewhere-signatures$`, 'm'));
      assert.equal(await rawManifest(sigTag), undefined, 'nothing in the image repository');
      assert.ok(await world.tagDigest(world.region, 'elsewhere-signatures', sigTag));
      const verify = (e: Record<string, string | undefined>) =>
        run(
          bin.cosign,
          [
            'verify',
            '--certificate-identity',
            identity,
            '--certificate-oidc-issuer',
            world.oidc.issuer,
            image,
          ],
          e,
        );
      assert.equal((await verify(elsewhere)).code, 0);
      assert.equal((await verify(env)).code, 10, 'without it, the image repository has no signatures');
    });

    test('faults: tbot expired-jwt, bad-aud, no-jwt, exit1-after-work; registry retries; flux exit1-after-work still pushes', async () => {
      const dir = tempDir('tbot-faults-');
      const cfg = (name: string) => {
        const out = join(dir, name);
        writeFileSync(join(dir, `${name}.yaml`), tbotConfig(world.teleportFqdn, out));
        return { config: join(dir, `${name}.yaml`), svid: join(out, 'jwt_svid') };
      };
      const results: Record<string, { r: Run; svid: string }> = {};
      // Run one at a time: faults are taken in order by whichever tbot starts first.
      for (const mode of ['expired-jwt', 'bad-aud', 'no-jwt', 'exit1-after-work'] as const) {
        addToolFault(world.controlDir, { tool: 'tbot', command: 'start', mode });
        const c = cfg(mode);
        results[mode] = { r: await run(bin.tbot, ['start', '-c', c.config], env), svid: c.svid };
      }
      const claims = (mode: string) => decodeJwt(readFileSync(results[mode]!.svid, 'utf8'));
      assert.equal(results['expired-jwt']!.r.code, 0);
      assert.ok((claims('expired-jwt').exp ?? 0) * 1000 < Date.now(), 'expired');
      assert.deepEqual(claims('bad-aud').aud, ['bad-audience.invalid']);
      assert.equal(results['no-jwt']!.r.code, 0);
      assert.throws(() => readFileSync(results['no-jwt']!.svid), /ENOENT/);
      assert.equal(results['exit1-after-work']!.r.code, 1);
      assert.deepEqual(
        claims('exit1-after-work').aud,
        ['sts.amazonaws.com'],
        'jwt_svid written before the failure',
      );

      // Registry hiccups are retried (a reset upload, a 503 on the manifest PUT), as go-containerregistry does.
      const target = registryTarget(world.region);
      const reset = world.faults.inject({ target, kind: 'blob-upload', fault: 'reset', count: 1 });
      const unavailable = world.faults.inject({ target, kind: 'manifest-put', fault: '5xx', count: 1 });
      const flaky = tempDir('src-flaky-');
      writeFileSync(join(flaky, 'f.yaml'), 'f: 1\n');
      const retried = await fluxPush('4.0.0', flaky, ['--debug']);
      assert.equal(retried.code, 0, retried.stderr);
      assert.deepEqual([reset.hits, unavailable.hits], [1, 1]);
      assert.match(retried.stderr, /retrying .*503/);
      assert.match(retried.stderr, /✔ artifact successfully pushed to /);

      addToolFault(world.controlDir, { tool: 'flux', command: 'push', mode: 'exit1-after-work' });
      const src = tempDir('src3-');
      writeFileSync(join(src, 'x.yaml'), 'x: 1\n');
      const r = await fluxPush('3.0.0', src, ['--output', 'json']);
      assert.equal(r.code, 1);
      assert.equal(r.stdout, '');
      assert.ok(await world.tagDigest(world.region, repo, '3.0.0'), 'the push landed anyway');
    });
  });
});
