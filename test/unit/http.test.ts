import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import {
  classifyHttp,
  getJson,
  HttpStatusError,
  isNetworkError,
  RequestError,
  readLimited,
  send,
} from '../../src/http.ts';

// The transport over plain HTTP on loopback; HTTPS, redirects across origins and credentials are in oci.test.ts.
let handle: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => res.end('ok');
const server = createServer((req, res) => handle(req, res));
let base: string;
before(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => {
  server.closeAllConnections();
  server.close();
});

test('a server that never answers fails the request within its timeout, as a retryable RequestError', async () => {
  handle = () => {};
  const started = Date.now();
  await assert.rejects(send(`${base}/hang`, { timeoutMs: 150 }), (error: unknown) => {
    assert.ok(error instanceof RequestError);
    assert.match(
      error.message,
      /^GET http:\/\/127\.0\.0\.1:\d+\/hang timed out after 150 ms without an answer$/,
    );
    assert.equal(classifyHttp(error), 'retry');
    return true;
  });
  assert.ok(Date.now() - started < 5_000);
});

test('a body that stops arriving fails its reader the same way', async () => {
  handle = (_req, res) => {
    res.writeHead(200, { 'content-length': '100' });
    res.write('partial');
  };
  const answer = await send(`${base}/stall`, { timeoutMs: 150 });
  await assert.rejects(readLimited(answer, 1000, 'GET /stall'), (error: unknown) => {
    assert.ok(error instanceof RequestError);
    assert.match(error.message, /reading the answer\) timed out after 150 ms/);
    assert.equal(classifyHttp(error), 'retry');
    return true;
  });
});

test('cancellation rejects with the run’s own reason, not a transport error', async () => {
  handle = () => {};
  const run = new AbortController();
  const pending = send(`${base}/hang`, { timeoutMs: 60_000, signal: run.signal });
  run.abort(new Error('the job was cancelled'));
  await assert.rejects(pending, /^Error: the job was cancelled$/);
});

test('getJson: the service’s own error message, no query in messages, JSON required', async () => {
  handle = (req, res) => {
    if (req.url?.startsWith('/teleport')) {
      res.writeHead(503).end(JSON.stringify({ error: { message: 'proxy is restarting' } }));
    } else if (req.url?.startsWith('/github')) {
      res.writeHead(403).end(JSON.stringify({ message: 'Resource not accessible by integration' }));
    } else if (req.url?.startsWith('/html')) {
      res.end('<html>sign in</html>');
    } else {
      res.end(JSON.stringify({ value: 'token' }));
    }
  };
  await assert.rejects(getJson(`${base}/teleport/webapi/find`, { timeoutMs: 1000 }), (error: unknown) => {
    assert.ok(error instanceof HttpStatusError);
    assert.equal(error.message, `GET ${base}/teleport/webapi/find answered HTTP 503: proxy is restarting`);
    assert.equal(classifyHttp(error), 'retry');
    return true;
  });
  await assert.rejects(getJson(`${base}/github?token=secret`, { timeoutMs: 1000 }), (error: unknown) => {
    assert.ok(error instanceof HttpStatusError);
    assert.doesNotMatch(error.message, /secret/);
    assert.match(error.message, /answered HTTP 403: Resource not accessible by integration$/);
    assert.equal(classifyHttp(error), 'fail');
    return true;
  });
  await assert.rejects(getJson(`${base}/html`, { timeoutMs: 1000 }), /did not answer JSON/);
  assert.deepEqual(await getJson(`${base}/ok`, { timeoutMs: 1000 }), { value: 'token' });
});

test('redirects are answers unless asked for, and a chain is bounded', async () => {
  handle = (req, res) => {
    if (req.url === '/moved') res.writeHead(302, { location: '/there' }).end();
    else if (req.url === '/loop') res.writeHead(302, { location: '/loop' }).end();
    else res.end('there');
  };
  const answer = await send(`${base}/moved`, { timeoutMs: 1000 });
  assert.equal(answer.status, 302);
  await answer.body.dump();
  const followed = await send(`${base}/moved`, { timeoutMs: 1000, redirects: 3 });
  assert.equal(followed.status, 200);
  assert.equal((await readLimited(followed, 100, 'GET /there')).toString(), 'there');
  await assert.rejects(
    send(`${base}/loop`, { timeoutMs: 1000, redirects: 3 }),
    /redirected more than 3 times/,
  );
});

test('readLimited refuses a body larger than expected, declared or sent', async () => {
  handle = (_req, res) => res.end('x'.repeat(2000));
  await assert.rejects(readLimited(await send(base, { timeoutMs: 1000 }), 100, 'GET /'), /2000 bytes, more/);
  handle = (_req, res) => {
    res.write('x'.repeat(500));
    res.end('x'.repeat(500));
  };
  await assert.rejects(readLimited(await send(base, { timeoutMs: 1000 }), 100, 'GET /'), /more than the 100/);
});

test('classifyHttp: 5xx, 408 and 429 and connection failures retry; other statuses and errors fail', () => {
  const status = (code: number) => new HttpStatusError('GET', 'https://h/p', code, '');
  assert.equal(classifyHttp(status(500)), 'retry');
  assert.equal(classifyHttp(status(503)), 'retry');
  assert.equal(classifyHttp(status(408)), 'retry');
  assert.equal(classifyHttp(status(429)), 'retry');
  assert.equal(classifyHttp(status(404)), 'fail');
  assert.equal(classifyHttp(status(401)), 'fail');
  const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
  assert.equal(classifyHttp(new RequestError('GET https://h/p', refused, 1000)), 'retry');
  assert.ok(isNetworkError(Object.assign(new Error('x'), { code: 'UND_ERR_BODY_TIMEOUT' })));
  assert.equal(classifyHttp(new Error('something else')), 'fail');
});

test('isNetworkError: connection codes and nested causes', () => {
  assert.ok(isNetworkError(Object.assign(new Error('reset'), { code: 'ECONNRESET' })));
  assert.ok(
    isNetworkError(
      new TypeError('fetch failed', { cause: Object.assign(new Error('x'), { code: 'UND_ERR_SOCKET' }) }),
    ),
  );
  assert.ok(
    isNetworkError(new Error('outer', { cause: Object.assign(new Error('inner'), { code: 'ETIMEDOUT' }) })),
  );
  assert.ok(!isNetworkError(new Error('AccessDenied')));
  assert.ok(!isNetworkError('ECONNRESET'));
});

// The Teleport version lookup (GET /webapi/find) retries by classifyHttp.
test('5xx, 429 and network failures are retried; other answers are not', () => {
  assert.equal(classifyHttp(new HttpStatusError('GET', 'https://t/webapi/find', 502, '')), 'retry');
  assert.equal(classifyHttp(new HttpStatusError('GET', 'https://t/webapi/find', 429, '')), 'retry');
  assert.equal(classifyHttp(new HttpStatusError('GET', 'https://t/webapi/find', 404, 'not found')), 'fail');
  assert.equal(
    classifyHttp(
      new Error('GET https://t failed', { cause: Object.assign(new Error('x'), { code: 'ECONNREFUSED' }) }),
    ),
    'retry',
  );
  assert.equal(classifyHttp(new Error('other')), 'fail');
  assert.equal(
    new HttpStatusError('GET', 'https://t/webapi/find', 503, 'down').message,
    'GET https://t/webapi/find answered HTTP 503: down',
  );
});
