// The runner's proxy (issue 16, item 1). Under production names every remote answers under its real name and is
// reachable only through the proxy (the world has no DNS), so the proxy's log shows what the action and its tools
// reached; with loopback endpoints the proxy must see nothing, because loopback always goes direct.
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { useBakeWorld, why } from '../harness/bake-world.ts';
import { leakedSecrets, type RunResult } from '../harness/run-action.ts';
import { escapeRegExp } from '../support/regexp.ts';
import {
  DEFAULT_ACCOUNT,
  downProxyUrl,
  ecrApiHost,
  ecrRegistryHost,
  type ForwardProxy,
  PRODUCTION_OIDC_HOST,
  PRODUCTION_TELEPORT_FQDN,
  stsHost,
  TARGETS,
  type World,
} from '../world/index.ts';
import { clearCalls, readCalls } from '../world/standins/control.ts';

const REGION = 'us-west-2';
const REGISTRY = ecrRegistryHost(DEFAULT_ACCOUNT, REGION);
const TELEPORT = PRODUCTION_TELEPORT_FQDN.replace(/:\d+$/, '');
/** Every remote a bake reaches: Teleport, the OIDC endpoint, STS, ECR's API and registry, and both download hosts. */
const REMOTES = [
  TELEPORT,
  PRODUCTION_OIDC_HOST,
  stsHost(REGION),
  ecrApiHost(REGION),
  REGISTRY,
  'github.com',
  'cdn.teleport.dev',
].sort();

const AUTH = { username: 'runner', password: 'proxy-pw:With/Odd@Chars' };

function proxyOf(world: World): Omit<ForwardProxy, 'close'> {
  assert.ok(world.proxy, 'the world runs a proxy');
  return world.proxy;
}

const hostsSeen = (world: World) =>
  [
    ...new Set(
      proxyOf(world)
        .requests()
        .map((r) => r.host),
    ),
  ].sort();

/** The proxy password, as written and as the URL encodes it, appears nowhere a user sees; the URL's userinfo neither. */
function assertPasswordHidden(result: RunResult): void {
  assert.deepEqual(leakedSecrets(result, [AUTH.password, encodeURIComponent(AUTH.password)]), []);
  assert.doesNotMatch(`${result.stdout}\n${result.stderr}\n${result.summary}`, /\/\/runner:/);
}

describe('a proxy that wants credentials, under production names', () => {
  const fx = useBakeWorld(['through-proxy', 'proxy-rules', 'proxy-lower-case'], {
    productionNames: true,
    proxy: { auth: AUTH },
  });
  // world.env() sets HTTPS_PROXY with AUTH's credentials.
  const proxy = () => proxyOf(fx.world);

  /**
   * A bake with an empty tool cache (so its tools are downloaded again) that must succeed and reach every remote
   * through the proxy, without showing its password.
   */
  async function bakeThroughProxy(service: string, env: Record<string, string | undefined> = {}) {
    proxy().clearRequests();
    const toolCache = await mkdtemp(join(fx.scratch, 'cache-'));
    const result = await fx.bake(service, {}, { toolCache, env });
    assert.equal(result.code, 0, why(result));
    assert.deepEqual(hostsSeen(fx.world), REMOTES);
    assertPasswordHidden(result);
    return result;
  }

  test('a whole bake reaches every remote through the proxy, with its credentials, and never shows them', async () => {
    const result = await bakeThroughProxy('through-proxy');
    assert.match(
      result.outputs['artifact'] ?? '',
      new RegExp(`^${escapeRegExp(REGISTRY)}/through-proxy-manifests@`),
    );

    // Every remote is in the proxy's log (bakeThroughProxy): STS and ECR's API are asked only by the action, the
    // download hosts only by its installs, so the action's own requests took the proxy. Each tunnel carried the
    // credentials.
    for (const request of proxy().requests()) {
      assert.deepEqual([request.method, request.status, request.user], ['CONNECT', 200, AUTH.username]);
    }
    assert.ok(fx.world.counters.get(TARGETS.sts, 'AssumeRoleWithWebIdentity') >= 1, 'STS answered');
    assert.ok(fx.world.counters.get(TARGETS.ecr, 'GetAuthorizationToken') >= 1, 'ECR answered');
    // The tools were handed the proxy variable unchanged (their tunnels are in the log above).
    for (const call of readCalls(fx.world.controlDir)) {
      assert.ok(call.env.includes('HTTPS_PROXY'), `${call.tool} ${call.command} gets HTTPS_PROXY`);
    }
    // Masked the moment it was read, as written and as the URL carries it.
    assert.ok(result.masks.includes(AUTH.password), 'the password is masked');
    assert.ok(result.masks.includes(encodeURIComponent(AUTH.password)), 'its URL form is masked');
  });

  test("Go's rules: HTTPS_PROXY before https_proxy, NO_PROXY before no_proxy, and near misses stay on the proxy", async () => {
    await bakeThroughProxy('proxy-rules', {
      // Were the lower-case ones read first, every request would go to a proxy that is down, or none to the proxy.
      https_proxy: await downProxyUrl(),
      no_proxy: '*',
      // None of these matches a remote of the bake by Go's rules: `.x`/`*.x` mean subdomains only, a port must
      // match, and `sts.amazonaws.com` covers its own subdomains, not sts.<region>.amazonaws.com.
      NO_PROXY: [
        '.github.com',
        '*.cdn.teleport.dev',
        `${TELEPORT}:8443`,
        'amazonaws.com:80',
        'sts.amazonaws.com',
        `${PRODUCTION_OIDC_HOST}.example`,
        '10.0.0.0/8',
      ].join(','),
    });
  });

  test('https_proxy alone is used, and HTTP_PROXY never for an https URL', async () => {
    await bakeThroughProxy('proxy-lower-case', {
      HTTPS_PROXY: undefined,
      https_proxy: proxy().urlWithCredentials(AUTH.username, AUTH.password),
      HTTP_PROXY: await downProxyUrl(),
    });
  });

  test('a proxy that is down: the usual retries, then the run fails naming the proxy', async () => {
    const down = await downProxyUrl();
    const started = Date.now();
    const result = await fx.bake('through-proxy', {}, { env: { HTTPS_PROXY: down } });
    // Retries, not a hang (the bound is generous: it must hold on a busy machine).
    assert.ok(Date.now() - started < 90_000, `failed within 90 s, took ${Date.now() - started} ms`);
    assert.equal(result.code, 1, why(result));
    // The first stages to need the network race (Teleport's version, the tool downloads); whichever fails first
    // names the proxy it could not reach. (Refused, as a rule; reset when a busy machine has handed the port on.)
    assert.match(
      result.failure ?? '',
      new RegExp(
        `^(teleport-version|install-(flux|cosign|tbot)): .* through proxy ${escapeRegExp(down)} failed: `,
      ),
    );
    assert.match(result.stdout, new RegExp(`attempt 1\\b.* through proxy ${escapeRegExp(down)} failed`));
    assert.match(result.stdout, new RegExp(`attempt 2\\b.* through proxy ${escapeRegExp(down)} failed`));
    for (const target of [TARGETS.teleport, TARGETS.mirror, TARGETS.sts, TARGETS.ecr]) {
      assert.equal(fx.world.counters.get(target), 0, `nothing reached ${target}`);
    }
  });

  test('NO_PROXY=.amazonaws.com sends every AWS host direct, where this runner cannot resolve it', async () => {
    proxy().clearRequests();
    const result = await fx.bake('through-proxy', {}, { env: { NO_PROXY: '.amazonaws.com' } });
    assert.equal(result.code, 1, why(result));
    assert.match(result.failure ?? '', /^assume: cannot reach STS to assume arn:aws:iam::\d{12}:role\//);
    assert.match(result.failure ?? '', new RegExp(`POST https://${escapeRegExp(stsHost(REGION))}/ failed`));
    assert.doesNotMatch(result.failure ?? '', /through proxy/);
    const seen = hostsSeen(fx.world);
    assert.deepEqual(
      seen.filter((host) => host.endsWith('.amazonaws.com')),
      [],
      'no AWS host went through the proxy',
    );
    assert.ok(seen.includes(TELEPORT), 'hosts NO_PROXY does not name still take the proxy');
    assert.equal(fx.world.counters.get(TARGETS.sts), 0);
    assertPasswordHidden(result);
  });

  /** A bake while the proxy refuses `host` (squid's 403 ERR_ACCESS_DENIED). */
  async function bakeWithDenied(host: string): Promise<RunResult> {
    proxy().clearRequests();
    fx.world.counters.reset();
    clearCalls(fx.world.controlDir);
    proxy().deny(host);
    try {
      return await fx.bake('through-proxy');
    } finally {
      proxy().allow(host);
    }
  }

  test('a proxy refusing a host (403) fails at once, naming the host, the proxy and what to do', async () => {
    // The registry is refused to the action's own registry client; STS to the AWS SDK, inside a stage that adds
    // its own hint: both say what the proxy did and what to do about it.
    for (const [host, stage] of [
      [REGISTRY, 'push'],
      [stsHost(REGION), 'assume'],
    ] as const) {
      const result = await bakeWithDenied(host);
      assert.equal(result.code, 1, why(result));
      const failure = result.failure ?? '';
      assert.ok(failure.startsWith(`${stage}: `), failure);
      assert.ok(
        failure.includes(`CONNECT ${host} through proxy ${proxy().url} answered HTTP 403`) &&
          failure.includes(
            `the proxy does not let the runner reach ${host}: have it allowed, or list the host in NO_PROXY`,
          ),
        failure,
      );
      // At once: one refused tunnel to that host, no retry.
      assert.deepEqual(
        proxy()
          .requests(host)
          .map((r) => r.status),
        [403],
        host,
      );
      assertPasswordHidden(result);
      // Nothing went on past the refusal.
      if (host === REGISTRY) assert.equal(readCalls(fx.world.controlDir, 'flux').length, 0, 'flux never ran');
      else assert.equal(fx.world.counters.get(TARGETS.sts), 0, 'STS was never reached');
    }
  });

  test('a proxy wanting credentials that HTTPS_PROXY lacks (407) fails at once, saying to give them', async () => {
    proxy().clearRequests();
    const result = await fx.bake('through-proxy', {}, { env: { HTTPS_PROXY: proxy().url } });
    assert.equal(result.code, 1, why(result));
    assert.match(
      result.failure ?? '',
      new RegExp(`: CONNECT \\S+ through proxy ${escapeRegExp(proxy().url)} answered HTTP 407`),
    );
    assert.match(
      result.failure ?? '',
      /the proxy wants credentials: give them in the proxy variable, e\.g\. HTTPS_PROXY=http:\/\/user:password@host:port/,
    );
    // At once: every tunnel refused and none retried — Teleport's version asked once, and at most one try per
    // release asset (flux and its checksums, cosign and its checksums) when the tools are not cached yet.
    const requests = proxy().requests();
    assert.deepEqual([...new Set(requests.map((r) => r.status))], [407]);
    assert.equal(proxy().requests(TELEPORT).length, 1);
    assert.ok(proxy().requests('github.com').length <= 4, 'downloads not retried');
    for (const target of [TARGETS.teleport, TARGETS.mirror]) assert.equal(fx.world.counters.get(target), 0);
  });
});

describe('a proxy in front of loopback endpoints', () => {
  const fx = useBakeWorld(['loopback-direct'], { proxy: true });

  test('nothing goes through it: localhost and loopback addresses always go direct, by the action and its tools', async () => {
    // world.env() sets HTTPS_PROXY and no NO_PROXY; every endpoint is 127.0.0.1 or localhost (the blob host).
    assert.ok(fx.world.env()['HTTPS_PROXY'], 'HTTPS_PROXY is set');
    const result = await fx.bake('loopback-direct');
    assert.equal(result.code, 0, why(result));
    // Sent through it, loopback would still work (the proxy connects loopback straight through) but be logged.
    assert.deepEqual(proxyOf(fx.world).requests(), []);
    assert.equal(fx.world.counters.get(TARGETS.proxy), 0);
    assert.ok(fx.world.counters.get(TARGETS.registry(fx.world.region), 's3-blob') > 0, 'localhost was used');
  });
});
