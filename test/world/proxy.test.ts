// Self-tests of the forward proxy, and of the production-names world reached only through it (Node clients and stand-ins).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest, type Server } from 'node:http';
import { Agent, type RequestOptions } from 'node:https';
import { type AddressInfo, connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import { ECRClient, GetAuthorizationTokenCommand } from '@aws-sdk/client-ecr';
import { AssumeRoleWithWebIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { decodeJwt } from 'jose';
import { Counters } from './counters.ts';
import { Faults } from './faults.ts';
import { httpsCall } from './https-client.ts';
import { downProxyUrl, MIRROR_PATHS, PROXY_TARGET, startWorld, type World } from './index.ts';
import { mirrorPath } from './mirror.ts';
import { type ForwardProxy, startProxy } from './proxy.ts';
import { toolRunner } from './run-tool.ts';

const REGISTRY = '515260921971.dkr.ecr.us-west-2.amazonaws.com';

interface ConnectReply {
  status: number;
  reason: string;
  headers: Record<string, string>;
  body: string;
  /** The open tunnel after a 200; destroyed otherwise. */
  socket: Socket;
}

/** Sends `CONNECT authority` to the proxy by hand and reads its answer (and, unless 200, the body up to close). */
function rawConnect(
  proxyPort: number,
  authority: string,
  headers: Record<string, string> = {},
): Promise<ConnectReply> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port: proxyPort });
    let buffered = Buffer.alloc(0);
    let head: Omit<ConnectReply, 'body' | 'socket'> | undefined;
    socket.on('error', reject);
    socket.on('connect', () => {
      const lines = Object.entries({ Host: authority, ...headers }).map(([k, v]) => `${k}: ${v}\r\n`);
      socket.write(`CONNECT ${authority} HTTP/1.1\r\n${lines.join('')}\r\n`);
    });
    const finish = (body: Buffer) => {
      if (!head) return reject(new Error(`no answer to CONNECT ${authority}: ${buffered.toString()}`));
      resolve({ ...head, body: body.toString('utf8'), socket });
    };
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (head) return;
      const end = buffered.indexOf('\r\n\r\n');
      if (end < 0) return;
      const [statusLine = '', ...rest] = buffered.subarray(0, end).toString('latin1').split('\r\n');
      const m = /^HTTP\/1\.1 (\d{3}) (.*)$/.exec(statusLine);
      head = {
        status: Number(m?.[1] ?? 0),
        reason: m?.[2] ?? '',
        headers: Object.fromEntries(
          rest.map((line) => [
            line.slice(0, line.indexOf(':')).toLowerCase(),
            line.slice(line.indexOf(':') + 1).trim(),
          ]),
        ),
      };
      buffered = buffered.subarray(end + 4);
      if (head.status === 200) {
        socket.removeAllListeners('data');
        socket.removeAllListeners('error');
        if (buffered.length > 0) socket.unshift(buffered);
        finish(Buffer.alloc(0));
      }
    });
    socket.on('end', () => finish(buffered));
    socket.on('close', () => {
      if (!head) finish(buffered);
    });
  });
}

/** An https Agent whose connections are CONNECT tunnels through the proxy, verifying TLS with `ca` (none: system roots). */
class TunnelAgent extends Agent {
  constructor(
    readonly proxyPort: number,
    readonly trust: Buffer | undefined,
    readonly proxyAuthorization?: string,
  ) {
    super({ keepAlive: false });
  }

  override createConnection(
    options: RequestOptions,
    callback?: (err: Error | null, stream: Duplex) => void,
  ): Duplex | null | undefined {
    const host = String(options.hostname ?? options.host);
    const authority = `${host}:${options.port ?? 443}`;
    const auth: Record<string, string> = this.proxyAuthorization
      ? { 'Proxy-Authorization': this.proxyAuthorization }
      : {};
    rawConnect(this.proxyPort, authority, auth).then(
      (reply) => {
        if (reply.status !== 200) {
          reply.socket.destroy();
          return callback?.(new Error(`proxy answered ${reply.status} ${reply.reason}`), undefined as never);
        }
        const secure = tlsConnect({
          socket: reply.socket,
          servername: host,
          ...(this.trust ? { ca: this.trust } : {}),
        });
        callback?.(null, secure);
      },
      (error: Error) => callback?.(error, undefined as never),
    );
    return undefined;
  }
}

const httpsVia = (
  agent: Agent,
  url: string,
  init: { method?: string; headers?: Record<string, string> } = {},
) => httpsCall(url, { method: init.method ?? 'GET', headers: init.headers, agent });

const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;

describe('forward proxy', { concurrency: 1 }, () => {
  let proxy: ForwardProxy;
  let echo: Server;
  let echoPort: number;
  const counters = new Counters();
  const faults = new Faults();

  before(async () => {
    // A plain HTTP server that says what it was asked, behind the proxy's routes.
    echo = createServer((req, res) => {
      const body = JSON.stringify({
        method: req.method,
        url: req.url,
        host: req.headers.host,
        via: req.headers.via,
      });
      res.writeHead(200, {
        'content-type': 'application/json',
        'content-length': String(Buffer.byteLength(body)),
      });
      res.end(body);
    });
    await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
    echoPort = (echo.address() as AddressInfo).port;
    proxy = await startProxy(counters, faults);
  });

  after(async () => {
    await proxy?.close();
    echo?.closeAllConnections();
    await new Promise<void>((resolve) => (echo ? echo.close(() => resolve()) : resolve()));
  });

  /** One HTTP/1.1 GET over an open tunnel. */
  const getOver = (socket: Socket, host: string, path: string): Promise<string> =>
    new Promise((resolve, reject) => {
      let text = '';
      socket.setEncoding('utf8');
      socket.on('data', (d: string) => {
        text += d;
        if (text.includes('}')) {
          socket.destroy();
          resolve(text);
        }
      });
      socket.on('error', reject);
      socket.write(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
    });

  test('CONNECT: a routed name and a loopback address are tunnelled byte for byte; the log records them', async () => {
    proxy.clearRequests();
    counters.reset();
    proxy.route('api.example.test:443', `127.0.0.1:${echoPort}`);
    assert.deepEqual(proxy.routes(), { 'api.example.test:443': `127.0.0.1:${echoPort}` });
    const before = Date.now();
    const routed = await rawConnect(proxy.port, 'API.Example.test:443');
    assert.deepEqual([routed.status, routed.reason], [200, 'Connection established']);
    const answer = await getOver(routed.socket, 'api.example.test', '/hello');
    assert.match(answer, /^HTTP\/1\.1 200 OK/);
    assert.match(answer, /"url":"\/hello","host":"api.example.test"/);

    const direct = await rawConnect(proxy.port, `127.0.0.1:${echoPort}`);
    assert.equal(direct.status, 200);
    assert.match(await getOver(direct.socket, 'x', '/direct'), /"url":"\/direct"/);
    const viaLocalhost = await rawConnect(proxy.port, `localhost:${echoPort}`);
    assert.equal(viaLocalhost.status, 200);
    viaLocalhost.socket.destroy();

    const log = proxy.requests();
    assert.deepEqual(
      log.map((e) => [e.method, e.host, e.port, e.status, e.upstream]),
      [
        ['CONNECT', 'api.example.test', 443, 200, `127.0.0.1:${echoPort}`],
        ['CONNECT', '127.0.0.1', echoPort, 200, `127.0.0.1:${echoPort}`],
        ['CONNECT', 'localhost', echoPort, 200, `127.0.0.1:${echoPort}`],
      ],
    );
    assert.ok(log.every((e) => e.time >= before && e.time <= Date.now()));
    assert.equal(proxy.requests('api.example.test').length, 1);
    assert.equal(counters.get(PROXY_TARGET, 'connect'), 3);
    proxy.unroute('api.example.test:443');
    assert.deepEqual(proxy.routes(), {});
  });

  test('absolute-URI http requests are forwarded with their Host; an origin-form request is a 400', async () => {
    proxy.route('plain.example.test', echoPort);
    const forwarded = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest(
        {
          host: '127.0.0.1',
          port: proxy.port,
          path: 'http://plain.example.test/y?z=1',
          headers: { host: 'plain.example.test' },
        },
        (res) => {
          let body = '';
          res.setEncoding('utf8').on('data', (d: string) => (body += d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on('error', reject);
      req.end();
    });
    assert.equal(forwarded.status, 200);
    const seen = JSON.parse(forwarded.body) as Record<string, string>;
    assert.deepEqual([seen['url'], seen['host']], ['/y?z=1', 'plain.example.test']);
    assert.match(seen['via'] ?? '', /squid/);
    const last = proxy.requests('plain.example.test').at(-1);
    assert.deepEqual(
      [last?.method, last?.url, last?.status],
      ['GET', 'http://plain.example.test/y?z=1', 200],
    );

    const origin = await fetch(`${proxy.url}/not-absolute`);
    assert.equal(origin.status, 400);
    assert.equal(origin.headers.get('x-squid-error'), 'ERR_INVALID_URL 0');
    proxy.unroute('plain.example.test');
  });

  test('unknown names answer 503 ERR_DNS_FAIL; outside IPs and a route to a closed port ERR_CONNECT_FAIL', async () => {
    const dns = await rawConnect(proxy.port, 'sts.us-west-2.amazonaws.com:443');
    assert.equal(dns.status, 503);
    assert.equal(dns.headers['x-squid-error'], 'ERR_DNS_FAIL 0');
    assert.match(dns.body, /Unable to determine IP address from host name sts\.us-west-2\.amazonaws\.com/);
    const outside = await rawConnect(proxy.port, '203.0.113.7:443');
    assert.deepEqual([outside.status, outside.headers['x-squid-error']], [503, 'ERR_CONNECT_FAIL 0']);
    const closed = new URL(await downProxyUrl());
    proxy.route('gone.example.test:443', Number(closed.port));
    const refused = await rawConnect(proxy.port, 'gone.example.test:443');
    assert.deepEqual([refused.status, refused.headers['x-squid-error']], [503, 'ERR_CONNECT_FAIL 0']);
    assert.match(refused.body, /Connection refused/);
    proxy.unroute('gone.example.test:443');
    assert.throws(() => proxy.route('x.example.test:443', '10.0.0.1:443'), /127\.0\.0\.1/);
  });

  test('deny answers 403 ERR_ACCESS_DENIED for that destination until allowed again', async () => {
    proxy.route('api.example.test:443', echoPort);
    proxy.deny('api.example.test');
    const denied = await rawConnect(proxy.port, 'api.example.test:443');
    assert.deepEqual([denied.status, denied.reason], [403, 'Forbidden']);
    assert.equal(denied.headers['x-squid-error'], 'ERR_ACCESS_DENIED 0');
    proxy.allow('api.example.test');
    proxy.deny(`127.0.0.1:${echoPort}`);
    assert.equal((await rawConnect(proxy.port, `127.0.0.1:${echoPort}`)).status, 403);
    proxy.allow(`127.0.0.1:${echoPort}`);
    const allowed = await rawConnect(proxy.port, 'api.example.test:443');
    assert.equal(allowed.status, 200);
    allowed.socket.destroy();
    proxy.unroute('api.example.test:443');
  });

  test('Basic auth: 407 with Proxy-Authenticate without or with wrong credentials; the right ones tunnel', async () => {
    proxy.setAuth({ username: 'builder', password: 's3cr:et' });
    try {
      proxy.clearRequests();
      const none = await rawConnect(proxy.port, `127.0.0.1:${echoPort}`);
      assert.deepEqual([none.status, none.reason], [407, 'Proxy Authentication Required']);
      assert.equal(none.headers['proxy-authenticate'], 'Basic realm="test world proxy"');
      assert.equal(none.headers['x-squid-error'], 'ERR_CACHE_ACCESS_DENIED 0');
      const wrong = await rawConnect(proxy.port, `127.0.0.1:${echoPort}`, {
        'Proxy-Authorization': basic('builder', 'nope'),
      });
      assert.equal(wrong.status, 407);
      const right = await rawConnect(proxy.port, `127.0.0.1:${echoPort}`, {
        'Proxy-Authorization': basic('builder', 's3cr:et'),
      });
      assert.equal(right.status, 200);
      right.socket.destroy();
      assert.deepEqual(
        proxy.requests().map((e) => [e.status, e.user]),
        [
          [407, undefined],
          [407, undefined],
          [200, 'builder'],
        ],
      );
      assert.equal(
        proxy.urlWithCredentials('builder', 's3cr:et'),
        `http://builder:s3cr%3Aet@127.0.0.1:${proxy.port}`,
      );
    } finally {
      proxy.setAuth(undefined);
    }
  });

  test('faults: refuse and fail the next CONNECTs, reset, delay; then serve normally', async () => {
    const target = `127.0.0.1:${echoPort}`;
    faults.inject({ target: PROXY_TARGET, kind: 'connect', fault: 'error', count: 2 });
    assert.equal((await rawConnect(proxy.port, target)).status, 403);
    assert.equal((await rawConnect(proxy.port, target)).status, 403);
    faults.inject({ target: PROXY_TARGET, kind: 'connect', fault: '5xx', urlIncludes: `:${echoPort}` });
    const failed = await rawConnect(proxy.port, target);
    assert.deepEqual([failed.status, failed.headers['x-squid-error']], [503, 'ERR_CONNECT_FAIL 0']);
    faults.inject({ target: PROXY_TARGET, kind: 'connect', fault: 'error', code: 'ERR_DNS_FAIL' });
    assert.equal((await rawConnect(proxy.port, target)).status, 503);
    faults.inject({ target: PROXY_TARGET, kind: 'connect', fault: 'reset' });
    await assert.rejects(rawConnect(proxy.port, target), /no answer|ECONNRESET/);
    faults.inject({ target: PROXY_TARGET, kind: 'connect', fault: 'delay', delayMs: 300 });
    const started = Date.now();
    const delayed = await rawConnect(proxy.port, target);
    assert.equal(delayed.status, 200);
    assert.ok(Date.now() - started >= 290, 'the delay held the answer');
    delayed.socket.destroy();
    assert.deepEqual(faults.pending(), []);
    const fine = await rawConnect(proxy.port, target);
    assert.equal(fine.status, 200);
    fine.socket.destroy();
  });

  test("the stand-ins' http client sends http:// URLs to HTTP_PROXY in absolute form, with the URL's credentials", async () => {
    proxy.route('plain.example.test', echoPort);
    proxy.setAuth({ username: 'u', password: 'p w' });
    try {
      // A separate process: the client reads the proxy variables once, as Go's net/http does.
      const script = [
        `const { request } = await import(${JSON.stringify(join(import.meta.dirname, 'standins/lib/http.ts'))});`,
        "const r = await request('GET', 'http://plain.example.test/z?q=1');",
        'process.stdout.write(`${r.status} ${r.body}`);',
      ].join('\n');
      const out = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
        PATH: process.env['PATH'],
        HTTP_PROXY: proxy.urlWithCredentials('u', 'p w'),
      });
      assert.equal(out.code, 0, out.stderr);
      assert.match(out.stdout, /^200 \{"method":"GET","url":"\/z\?q=1","host":"plain.example.test"/);
      assert.deepEqual(
        proxy
          .requests('plain.example.test')
          .map((e) => [e.method, e.user])
          .at(-1),
        ['GET', 'u'],
      );
    } finally {
      proxy.setAuth(undefined);
      proxy.unroute('plain.example.test');
    }
  });

  test('a proxy that is down refuses connections', async () => {
    const down = new URL(await downProxyUrl());
    await assert.rejects(rawConnect(Number(down.port), 'github.com:443'), { code: 'ECONNREFUSED' });
  });

  test('the mirror maps an upstream Host to <root>/<host>/<path> and keeps its own layout', () => {
    assert.equal(mirrorPath('github.com', '/a/b'), '/github.com/a/b');
    assert.equal(mirrorPath('GitHub.com:443', '/a'), '/github.com/a');
    assert.equal(mirrorPath('127.0.0.1:4431', '/github.com/a'), '/github.com/a');
    assert.equal(mirrorPath('localhost:4431', '/x'), '/x');
    assert.equal(mirrorPath(undefined, '/x'), '/x');
  });
});

// ---- worlds with a proxy ----

test('a loopback world with proxy options: HTTPS_PROXY carries the credentials, the endpoints stay loopback', async () => {
  const world = await startWorld({
    proxy: { auth: { username: 'ci', password: 'p@ss' } },
    publishStandins: false,
  });
  try {
    const env = world.env();
    assert.equal(world.productionNames, false);
    assert.equal(env['HTTPS_PROXY'], world.proxy?.urlWithCredentials('ci', 'p@ss'));
    assert.equal(env['AWS_ENDPOINT_URL_ECR'], world.ecrEndpoint);
    assert.deepEqual(world.proxy?.routes(), {});
    const authority = new URL(world.ecrEndpoint).host;
    assert.equal((await rawConnect(world.proxy?.port ?? 0, authority)).status, 407);
    const tunnel = await rawConnect(world.proxy?.port ?? 0, authority, {
      'Proxy-Authorization': basic('ci', 'p@ss'),
    });
    assert.equal(tunnel.status, 200);
    tunnel.socket.destroy();
    assert.equal(world.counters.get('proxy', 'connect'), 2);
  } finally {
    await world.stop();
  }
  await assert.rejects(rawConnect(world.proxy?.port ?? 0, 'github.com:443'), { code: 'ECONNREFUSED' });
});

const { run, killAll } = toolRunner(60_000);
const scratch: string[] = [];

after(() => {
  killAll();
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

describe('production-names world through the proxy', { concurrency: 1 }, () => {
  let world: World;
  let ca: Buffer;
  let agent: TunnelAgent;
  let handler: NodeHttpHandler;
  let registryAuth: string;

  before(async () => {
    world = await startWorld({ productionNames: true, secondary: 'eu-central-1' });
    ca = readFileSync(world.caFile);
    agent = new TunnelAgent(world.proxy!.port, ca);
    handler = new NodeHttpHandler({ httpsAgent: agent });
  });

  after(async () => {
    handler?.destroy();
    await world?.stop();
  });

  test('world fields and env() carry the production values and the proxy', () => {
    assert.equal(world.productionNames, true);
    assert.equal(world.registryHost, REGISTRY);
    assert.equal(world.secondaryRegistryHost, '515260921971.dkr.ecr.eu-central-1.amazonaws.com');
    assert.equal(world.teleportFqdn, 'teleport.maestra.io:443');
    assert.equal(world.teleport.fqdn, 'teleport.maestra.io:443');
    assert.equal(world.mirrorUrl, '', 'no tool-mirror: downloads go to github.com and cdn.teleport.dev');
    const env = world.env();
    assert.equal(env['HTTPS_PROXY'], world.proxy?.url);
    assert.equal(env['AWS_ENDPOINT_URL_ECR'], undefined);
    assert.equal(env['AWS_ENDPOINT_URL_STS'], undefined);
    const oidcUrl = new URL(env['ACTIONS_ID_TOKEN_REQUEST_URL'] ?? '');
    assert.equal(oidcUrl.host, 'pipelines.actions.githubusercontent.com');
    assert.equal(oidcUrl.searchParams.get('api-version'), '2.0');
    assert.deepEqual(Object.keys(world.proxy?.routes() ?? {}).sort(), [
      '515260921971.dkr.ecr.eu-central-1.amazonaws.com:443',
      `${REGISTRY}:443`,
      'api.ecr.eu-central-1.amazonaws.com:443',
      'api.ecr.us-west-2.amazonaws.com:443',
      'cdn.teleport.dev:443',
      'github.com:443',
      'pipelines.actions.githubusercontent.com:443',
      'sts.amazonaws.com:443',
      'sts.eu-central-1.amazonaws.com:443',
      'sts.us-west-2.amazonaws.com:443',
      'teleport.maestra.io:443',
    ]);
  });

  test('Node HTTPS through CONNECT reaches Teleport, OIDC, the mirror, STS, ECR and the registry, verified with the world CA', async () => {
    world.proxy?.clearRequests();
    const find = await httpsVia(agent, 'https://teleport.maestra.io/webapi/find');
    assert.equal(find.status, 200);
    assert.equal(
      (JSON.parse(find.body.toString()) as { server_version: string }).server_version,
      world.standinVersions.teleport,
    );

    const token = await httpsVia(agent, `${world.oidc.requestUrl}&audience=sigstore`, {
      headers: { authorization: `Bearer ${world.oidc.requestToken}` },
    });
    assert.equal(token.status, 200);
    assert.equal(decodeJwt((JSON.parse(token.body.toString()) as { value: string }).value).aud, 'sigstore');

    const v = world.standinVersions;
    for (const path of [MIRROR_PATHS.fluxChecksums(v.flux), MIRROR_PATHS.teleportChecksum(v.teleport)]) {
      const got = await httpsVia(agent, `https://${path}`);
      assert.equal(got.status, 200, path);
      assert.deepEqual(got.body, readFileSync(join(world.mirror.root, path)), path);
    }
    // The tool-mirror layout on the mirror's own address still works, straight to loopback.
    const ownLayout = await httpsVia(
      new Agent({ ca, keepAlive: false }),
      `${world.mirror.url}/${MIRROR_PATHS.fluxChecksums(v.flux)}`,
    );
    assert.equal(ownLayout.status, 200);

    // The SDK with no endpoint: it resolves sts.us-west-2 / api.ecr.us-west-2.amazonaws.com itself.
    const sts = new STSClient({ region: 'us-west-2', requestHandler: handler, maxAttempts: 1 });
    const assumed = await sts.send(
      new AssumeRoleWithWebIdentityCommand({
        RoleArn: world.roleArn,
        RoleSessionName: 'proxy-selftest',
        WebIdentityToken: await world.teleport.mintSvid(['sts.amazonaws.com']),
      }),
    );
    const c = assumed.Credentials!;
    const credentials = {
      accessKeyId: c.AccessKeyId!,
      secretAccessKey: c.SecretAccessKey!,
      sessionToken: c.SessionToken!,
    };
    const ecrIn = (region: string) =>
      new ECRClient({ region, requestHandler: handler, maxAttempts: 1, credentials });
    const ecr = ecrIn('us-west-2');
    const data = (await ecr.send(new GetAuthorizationTokenCommand({}))).authorizationData?.[0];
    assert.equal(data?.proxyEndpoint, `https://${REGISTRY}`);
    registryAuth = data?.authorizationToken ?? '';

    const anonymous = await httpsVia(agent, `https://${REGISTRY}/v2/`);
    assert.equal(anonymous.status, 401);
    assert.equal(
      anonymous.headers['www-authenticate'],
      `Basic realm="https://${REGISTRY}/",service="ecr.amazonaws.com"`,
    );
    const ping = await httpsVia(agent, `https://${REGISTRY}/v2/`, {
      headers: { authorization: `Basic ${registryAuth}` },
    });
    assert.equal(ping.status, 200);
    // The secondary region: its own front under its own name, and its ECR API with a token of that region.
    const secondaryHost = world.secondaryRegistryHost ?? '';
    const ecr2 = ecrIn('eu-central-1');
    const data2 = (await ecr2.send(new GetAuthorizationTokenCommand({}))).authorizationData?.[0];
    assert.equal(data2?.proxyEndpoint, `https://${secondaryHost}`);
    const ping2 = await httpsVia(agent, `https://${secondaryHost}/v2/`, {
      headers: { authorization: `Basic ${data2?.authorizationToken}` },
    });
    assert.equal(ping2.status, 200);
    ecr2.destroy();

    const asked = new Set(world.proxy?.requests().map((e) => `${e.method} ${e.authority} ${e.status}`));
    for (const authority of [
      'teleport.maestra.io:443',
      'pipelines.actions.githubusercontent.com:443',
      'github.com:443',
      'cdn.teleport.dev:443',
      'sts.us-west-2.amazonaws.com:443',
      'api.ecr.us-west-2.amazonaws.com:443',
      `${REGISTRY}:443`,
    ]) {
      assert.ok(
        asked.has(`CONNECT ${authority} 200`),
        `${authority} went through the proxy: ${[...asked].join(', ')}`,
      );
    }
    sts.destroy();
    ecr.destroy();
  });

  test('TLS under the production names needs the world CA; unrouted names fail at the proxy', async () => {
    const untrusting = new TunnelAgent(world.proxy!.port, undefined);
    await assert.rejects(httpsVia(untrusting, 'https://github.com/'), (error: NodeJS.ErrnoException) =>
      /UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED|UNABLE_TO_GET_ISSUER/.test(error.code ?? ''),
    );
    await assert.rejects(httpsVia(agent, 'https://api.ecr.ap-south-1.amazonaws.com/'), /proxy answered 503/);
  });

  describe('stand-ins honour the proxy variables', { concurrency: 1 }, () => {
    let bin: { flux: string; tbot: string };
    let root: string;
    let base: Record<string, string | undefined>;

    before(() => {
      root = mkdtempSync(join(tmpdir(), 'proxy-standins-'));
      scratch.push(root);
      const v = world.standinVersions;
      const arch = process.arch === 'arm64' ? 'arm64' : 'amd64';
      mkdirSync(join(root, 'flux'));
      execFileSync('tar', [
        '-xzf',
        join(world.mirror.root, MIRROR_PATHS.flux(v.flux, arch)),
        '-C',
        join(root, 'flux'),
      ]);
      execFileSync('tar', [
        '-xzf',
        join(world.mirror.root, MIRROR_PATHS.teleport(v.teleport, arch)),
        '-C',
        root,
      ]);
      bin = { flux: join(root, 'flux', 'flux'), tbot: join(root, 'teleport', 'tbot') };
      const docker = join(root, 'docker');
      mkdirSync(docker);
      writeFileSync(
        join(docker, 'config.json'),
        JSON.stringify({ auths: { [REGISTRY]: { auth: registryAuth } } }),
      );
      const w = world.env();
      base = {
        PATH: process.env['PATH'],
        HOME: process.env['HOME'],
        SSL_CERT_FILE: w['SSL_CERT_FILE'],
        ACTIONS_ID_TOKEN_REQUEST_URL: w['ACTIONS_ID_TOKEN_REQUEST_URL'],
        ACTIONS_ID_TOKEN_REQUEST_TOKEN: w['ACTIONS_ID_TOKEN_REQUEST_TOKEN'],
        DOCKER_CONFIG: docker,
      };
      world.createRepository(world.region, 'svc-manifests', 'IMMUTABLE_WITH_EXCLUSION', ['sha256-*']);
      const src = join(root, 'src');
      mkdirSync(src);
      writeFileSync(join(src, 'a.yaml'), 'a: 1\n');
    });

    const push = (tag: string, env: Record<string, string | undefined>) =>
      run(
        bin.flux,
        [
          'push',
          'artifact',
          `oci://${REGISTRY}/svc-manifests:${tag}`,
          '--path',
          join(root, 'src'),
          '--source',
          'https://github.com/o/r',
          '--revision',
          `${tag}@sha1:abc`,
          '--output',
          'json',
        ],
        { ...base, ...env },
      );

    test('tbot gets its OIDC token and JWT SVID from the production hosts through HTTPS_PROXY', async () => {
      world.proxy?.clearRequests();
      const out = join(root, 'tbot-out');
      const config = join(root, 'tbot.yaml');
      writeFileSync(
        config,
        [
          'version: v2',
          `proxy_server: ${world.teleportFqdn}`,
          'oneshot: true',
          'onboarding: {join_method: github, token: image-push-github-actions-sample-service}',
          'storage: {type: memory}',
          'services:',
          '  - type: workload-identity-jwt',
          `    destination: {type: directory, path: ${out}}`,
          '    selector: {name: image-push}',
          '    audiences: [sts.amazonaws.com]',
          '',
        ].join('\n'),
      );
      const tb = await run(bin.tbot, ['start', '-c', config], {
        ...base,
        HTTPS_PROXY: world.env()['HTTPS_PROXY'],
      });
      assert.equal(tb.code, 0, tb.stderr);
      assert.deepEqual(decodeJwt(readFileSync(join(out, 'jwt_svid'), 'utf8')).aud, ['sts.amazonaws.com']);
      const hosts = new Set(world.proxy?.requests().map((e) => e.host));
      assert.ok(
        hosts.has('pipelines.actions.githubusercontent.com') && hosts.has('teleport.maestra.io'),
        [...hosts].join(),
      );
    });

    test('flux pushes to the production registry host through HTTPS_PROXY (and https_proxy)', async () => {
      world.proxy?.clearRequests();
      const pushed = await push('1.0.0', { HTTPS_PROXY: world.env()['HTTPS_PROXY'] });
      assert.equal(pushed.code, 0, pushed.stderr);
      const info = JSON.parse(pushed.stdout) as { repository: string; digest: string };
      assert.equal(info.repository, `${REGISTRY}/svc-manifests`);
      assert.equal(await world.tagDigest(world.region, 'svc-manifests', '1.0.0'), info.digest);
      const log = world.proxy?.requests() ?? [];
      assert.ok(
        log.length > 0 && log.every((e) => e.host === REGISTRY && e.method === 'CONNECT' && e.status === 200),
      );

      const lower = await push('1.0.1', { https_proxy: world.env()['HTTPS_PROXY'] });
      assert.equal(lower.code, 0, lower.stderr);
    });

    test('NO_PROXY, HTTP_PROXY alone, a down proxy and proxy auth fail or pass as Go programs do', async () => {
      const proxyUrl = world.env()['HTTPS_PROXY'] ?? '';
      const bypass = await push('1.1.0', { HTTPS_PROXY: proxyUrl, NO_PROXY: '.amazonaws.com' });
      assert.equal(bypass.code, 1);
      assert.match(
        bypass.stderr,
        new RegExp(`dial tcp: lookup ${REGISTRY.replace(/\./g, '\\.')}: no such host`),
      );

      const httpOnly = await push('1.1.0', { HTTP_PROXY: proxyUrl });
      assert.equal(httpOnly.code, 1, 'HTTP_PROXY does not apply to https URLs');
      assert.match(httpOnly.stderr, /no such host/);

      const down = await downProxyUrl();
      const refused = await push('1.1.0', { HTTPS_PROXY: down });
      assert.equal(refused.code, 1);
      assert.match(
        refused.stderr,
        new RegExp(`proxyconnect tcp: dial tcp ${new URL(down).host}: connect: connection refused`),
      );

      world.proxy?.setAuth({ username: 'runner', password: 'pa ss' });
      try {
        const noCreds = await push('1.1.0', { HTTPS_PROXY: proxyUrl });
        assert.equal(noCreds.code, 1);
        assert.match(noCreds.stderr, /: Proxy Authentication Required/);
        const withCreds = await push('1.1.0', {
          HTTPS_PROXY: world.proxy?.urlWithCredentials('runner', 'pa ss'),
        });
        assert.equal(withCreds.code, 0, withCreds.stderr);
        assert.equal(world.proxy?.requests().at(-1)?.user, 'runner');
      } finally {
        world.proxy?.setAuth(undefined);
      }
    });
  });
});
