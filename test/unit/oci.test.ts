import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { HttpStatusError } from '../../src/http.ts';
import { MEDIA_TYPES, OciClient, type OciClientOptions, RegistryError } from '../../src/oci.ts';
import { sha } from '../support/digest.ts';
import { makeTls } from '../world/tls.ts';

// TLS trust (NODE_EXTRA_CA_CERTS) is read once at process start, as in the action; so this file makes a CA
// and runs itself again in a child that trusts it.
const TLS_DIR = process.env['OCI_TEST_TLS_DIR'];

if (!TLS_DIR) {
  test('the OCI client, against HTTPS servers whose CA the process trusts', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'oci-test-'));
    try {
      const tls = await makeTls(dir);
      const env: NodeJS.ProcessEnv = {
        ...process.env,
        OCI_TEST_TLS_DIR: dir,
        NODE_EXTRA_CA_CERTS: tls.caFile,
      };
      delete env['NODE_TEST_CONTEXT'];
      const file = fileURLToPath(import.meta.url);
      const child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', file], {
        env,
      });
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString();
      });
      child.stderr.on('data', (chunk: Buffer) => {
        output += chunk.toString();
      });
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
      assert.equal(code, 0, output);
      assert.match(output, /pass [1-9]/, output);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
} else {
  trustedSuite(TLS_DIR);
}

interface Seen {
  method: string;
  url: string;
  authorization: string | undefined;
  accept: string | undefined;
}

type Handler = (req: IncomingMessage, res: ServerResponse, n: number) => void;

interface TestServer {
  server: Server;
  origin: string;
  host: string;
  seen: Seen[];
  handle: Handler;
}

const AUTH = Buffer.from('AWS:secret-password').toString('base64');

function registryError(res: ServerResponse, status: number, code: string, message = code.toLowerCase()) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ errors: [{ code, message }] }));
}

function trustedSuite(dir: string): void {
  let registry: TestServer;
  let s3: TestServer;

  const listen = async (key: Buffer, cert: Buffer): Promise<TestServer> => {
    const box = { seen: [] as Seen[], handle: ((_req, res) => res.end()) as Handler };
    const server = createServer({ key, cert }, (req, res) => {
      box.seen.push({
        method: req.method ?? '',
        url: req.url ?? '',
        authorization: req.headers.authorization,
        accept: req.headers.accept,
      });
      box.handle(req, res, box.seen.length);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const host = `127.0.0.1:${port}`;
    return Object.assign(box, { server, host, origin: `https://${host}` });
  };

  before(async () => {
    const [key, cert] = await Promise.all([
      readFile(join(dir, 'server.key')),
      readFile(join(dir, 'server.pem')),
    ]);
    registry = await listen(key, cert);
    s3 = await listen(key, cert);
  });
  after(() => {
    for (const s of [registry, s3]) {
      s.server.closeAllConnections();
      s.server.close();
    }
  });
  beforeEach(() => {
    for (const s of [registry, s3]) {
      s.seen.length = 0;
      s.handle = (_req, res) => registryError(res, 500, 'UNEXPECTED');
    }
  });

  const client = (options: Partial<OciClientOptions> = {}) =>
    new OciClient({
      registry: registry.host,
      authorization: AUTH,
      retry: { sleep: async () => {}, ...options.retry },
      ...options,
    });

  const manifest = Buffer.from(
    JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPES.ociManifest, layers: [] }),
  );

  describe('manifests', () => {
    test('GET by tag: Basic auth, every manifest type accepted, digest computed from the bytes', async () => {
      registry.handle = (_req, res) => {
        res.writeHead(200, {
          'content-type': MEDIA_TYPES.ociManifest,
          'docker-content-digest': sha(manifest),
        });
        res.end(manifest);
      };
      const got = await client().getManifest('svc-manifests', '1.2.3');
      assert.ok(got);
      assert.equal(got.digest, sha(manifest));
      assert.equal(got.mediaType, MEDIA_TYPES.ociManifest);
      assert.deepEqual(got.body, manifest);
      const [seen] = registry.seen;
      assert.equal(seen?.url, '/v2/svc-manifests/manifests/1.2.3');
      assert.equal(seen?.authorization, `Basic ${AUTH}`);
      for (const type of Object.values(MEDIA_TYPES)) assert.ok(seen?.accept?.includes(type), type);
    });

    test('HEAD gives digest, type and size without the body', async () => {
      registry.handle = (_req, res) => {
        res.writeHead(200, {
          'content-type': `${MEDIA_TYPES.ociIndex}; charset=utf-8`,
          'docker-content-digest': sha(manifest),
          'content-length': String(manifest.length),
        });
        res.end();
      };
      const head = await client().headManifest('svc-manifests', '1.2.3');
      assert.deepEqual(head, {
        digest: sha(manifest),
        mediaType: MEDIA_TYPES.ociIndex,
        size: manifest.length,
      });
      assert.equal(registry.seen[0]?.method, 'HEAD');
    });

    test('MANIFEST_UNKNOWN and NAME_UNKNOWN mean absent; HEAD 404 too', async () => {
      registry.handle = (_req, res, n) =>
        registryError(res, 404, n === 1 ? 'MANIFEST_UNKNOWN' : 'NAME_UNKNOWN');
      assert.equal(await client().getManifest('svc-manifests', '9.9.9'), undefined);
      assert.equal(await client().getManifest('nope', '9.9.9'), undefined);
      registry.handle = (_req, res) => {
        res.writeHead(404);
        res.end();
      };
      assert.equal(await client().headManifest('svc-manifests', '9.9.9'), undefined);
    });

    test('any other 404 is an error, not an absent tag', async () => {
      registry.handle = (_req, res) => {
        res.writeHead(404, { 'content-type': 'text/html' });
        res.end('<h1>Not Found</h1>');
      };
      await assert.rejects(client().getManifest('svc-manifests', '1.2.3'), (error: unknown) => {
        assert.ok(error instanceof HttpStatusError);
        assert.equal(error.status, 404);
        return true;
      });
    });

    test('a manifest whose bytes do not match the digest asked for is refused', async () => {
      registry.handle = (_req, res) => {
        res.writeHead(200, { 'content-type': MEDIA_TYPES.ociManifest });
        res.end(manifest);
      };
      const wanted = sha('something else');
      await assert.rejects(
        client().getManifest('svc-manifests', wanted),
        /whose sha256 is sha256:[0-9a-f]{64}, not/,
      );
      assert.equal(
        registry.seen[0]?.url,
        `/v2/svc-manifests/manifests/${wanted}`,
        'a digest goes with a literal colon',
      );
    });

    test('a Docker-Content-Digest that disagrees with the bytes is refused', async () => {
      registry.handle = (_req, res) => {
        res.writeHead(200, {
          'content-type': MEDIA_TYPES.ociManifest,
          'docker-content-digest': sha('other'),
        });
        res.end(manifest);
      };
      await assert.rejects(client().getManifest('svc-manifests', '1.2.3'), RegistryError);
    });
  });

  describe('blobs', () => {
    const blob = Buffer.from('layer bytes');

    test('a redirect to another origin is followed without the registry credentials', async () => {
      registry.handle = (_req, res) => {
        res.writeHead(307, {
          location: `${s3.origin}/bucket/key?X-Amz-Signature=abc123&X-Amz-Credential=ASIA`,
        });
        res.end();
      };
      s3.handle = (req, res) => {
        if (req.headers.authorization) return registryError(res, 400, 'InvalidArgument');
        res.end(blob);
      };
      const got = await client().getBlob('svc-manifests', sha(blob));
      assert.deepEqual(got, blob);
      assert.equal(registry.seen[0]?.authorization, `Basic ${AUTH}`);
      assert.equal(s3.seen.length, 1);
      assert.equal(s3.seen[0]?.authorization, undefined);
      assert.match(s3.seen[0]?.url ?? '', /X-Amz-Signature=abc123/);
    });

    test('a redirect within the registry keeps the credentials', async () => {
      registry.handle = (req, res) => {
        if (req.url?.startsWith('/v2/')) {
          res.writeHead(302, { location: '/storage/blob' });
          return res.end();
        }
        res.end(req.headers.authorization === `Basic ${AUTH}` ? blob : 'anonymous');
      };
      assert.deepEqual(await client().getBlob('svc-manifests', sha(blob)), blob);
    });

    test('bytes that do not hash to the digest are refused, and a failure never shows the pre-signed query', async () => {
      registry.handle = (_req, res) => {
        res.writeHead(307, { location: `${s3.origin}/bucket/key?X-Amz-Signature=secret-signature` });
        res.end();
      };
      s3.handle = (_req, res) => res.end('tampered');
      await assert.rejects(client().getBlob('svc-manifests', sha(blob)), (error: unknown) => {
        assert.ok(error instanceof RegistryError);
        assert.match(error.message, /arrived with sha256/);
        return true;
      });
      s3.handle = (_req, res) => registryError(res, 403, 'AccessDenied');
      await assert.rejects(client().getBlob('svc-manifests', sha(blob)), (error: unknown) => {
        assert.ok(error instanceof HttpStatusError);
        assert.match(error.message, /answered HTTP 403/);
        assert.doesNotMatch(error.message, /secret-signature/);
        return true;
      });
    });

    test('a redirect to plain http is refused', async () => {
      registry.handle = (_req, res) => {
        res.writeHead(307, { location: 'http://127.0.0.1:1/blob' });
        res.end();
      };
      await assert.rejects(client().getBlob('svc-manifests', sha(blob)), /redirected to http:/);
    });
  });

  describe('failures', () => {
    const ok: Handler = (_req, res) => {
      res.writeHead(200, { 'content-type': MEDIA_TYPES.ociManifest });
      res.end(manifest);
    };

    test('5xx and 429 are retried, and each retry is reported', async () => {
      registry.handle = (req, res, n) => {
        if (n === 1) return registryError(res, 503, 'UNAVAILABLE');
        if (n === 2) return registryError(res, 429, 'TOOMANYREQUESTS');
        ok(req, res, n);
      };
      const told: string[] = [];
      const got = await client({ onRetry: (m) => told.push(m) }).getManifest('svc-manifests', '1.2.3');
      assert.equal(got?.digest, sha(manifest));
      assert.equal(registry.seen.length, 3);
      assert.equal(told.length, 2);
      assert.match(told[0] ?? '', /answered HTTP 503: UNAVAILABLE/);
    });

    test('a reset connection is retried', async () => {
      registry.handle = (req, res, n) => (n === 1 ? req.socket.destroy() : ok(req, res, n));
      assert.equal((await client().getManifest('svc-manifests', '1.2.3'))?.digest, sha(manifest));
      assert.equal(registry.seen.length, 2);
    });

    test('401 is not retried and says what to check', async () => {
      registry.handle = (_req, res) =>
        registryError(res, 401, 'DENIED', 'Your authorization token is invalid.');
      await assert.rejects(client().getManifest('svc-manifests', '1.2.3'), (error: unknown) => {
        assert.ok(error instanceof HttpStatusError);
        assert.equal(error.status, 401);
        assert.equal(error.code, 'DENIED');
        assert.match(error.hint ?? '', /refused the ECR credentials/);
        return true;
      });
      assert.equal(registry.seen.length, 1);
    });

    test('a request that hangs times out, is retried, then fails saying so', async () => {
      registry.handle = () => {};
      await assert.rejects(
        client({ timeoutMs: 150, retry: { attempts: 2, sleep: async () => {} } }).getManifest('svc', '1.2.3'),
        /timed out after 150 ms/,
      );
      assert.equal(registry.seen.length, 2);
    });

    test('cancellation stops at once, without retrying', async () => {
      registry.handle = () => {};
      const abort = new AbortController();
      const pending = client({ signal: abort.signal }).getManifest('svc', '1.2.3');
      setTimeout(() => abort.abort(new Error('cancelled')), 50);
      await assert.rejects(pending, /cancelled/);
      assert.equal(registry.seen.length, 1);
    });
  });

  describe('writes', () => {
    const blob = Buffer.from('{"a flux config":true}');
    const bodies: { type: string | undefined; body: Buffer }[] = [];
    /** Answers an upload: POST opens a session at a relative Location, PUT stores the bytes it is sent. */
    const upload =
      (
        put: (res: ServerResponse, n: number) => void = (res) => {
          res.writeHead(201, { 'docker-content-digest': sha(blob) });
          res.end();
        },
      ): Handler =>
      (req, res, n) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          bodies.push({ type: req.headers['content-type'], body: Buffer.concat(chunks) });
          if (req.method === 'POST') {
            res.writeHead(202, { location: `/v2/svc/blobs/uploads/u${n}?_state=s${n}` });
            return void res.end();
          }
          put(res, n);
        });
      };
    beforeEach(() => {
      bodies.length = 0;
    });

    test('a blob goes up in one POST and one PUT of its bytes to the session, ?digest= added, Basic auth on both', async () => {
      registry.handle = upload();
      await client().uploadBlob('svc', sha(blob), blob);
      assert.deepEqual(
        registry.seen.map((r) => r.method),
        ['POST', 'PUT'],
      );
      const put = new URL(registry.seen[1]?.url ?? '', registry.origin);
      assert.equal(put.pathname, '/v2/svc/blobs/uploads/u1');
      assert.equal(put.searchParams.get('_state'), 's1');
      assert.equal(put.searchParams.get('digest'), sha(blob));
      assert.deepEqual(bodies[1], { type: 'application/octet-stream', body: blob });
      for (const r of registry.seen) assert.equal(r.authorization, `Basic ${AUTH}`);
    });

    test('a failed PUT re-opens the upload: the pair is retried as a whole, and the retry is reported', async () => {
      registry.handle = upload((res, n) => {
        if (n === 2) return registryError(res, 503, 'UNAVAILABLE');
        res.writeHead(201);
        res.end();
      });
      const told: string[] = [];
      await client({ onRetry: (m) => told.push(m) }).uploadBlob('svc', sha(blob), blob);
      assert.deepEqual(
        registry.seen.map((r) => r.method),
        ['POST', 'PUT', 'POST', 'PUT'],
      );
      assert.match(registry.seen[3]?.url ?? '', /^\/v2\/svc\/blobs\/uploads\/u3\?/);
      assert.equal(told.length, 1);
      assert.match(
        told[0] ?? '',
        /^upload of sha256:[0-9a-f]{64} to \S+ failed \(PUT \S+ answered HTTP 503: UNAVAILABLE/,
      );
    });

    test('bytes that do not hash to the digest are never sent', async () => {
      await assert.rejects(client().uploadBlob('svc', sha('other'), blob), /hashes to sha256:/);
      assert.equal(registry.seen.length, 0);
    });

    test('an upload session on plain http is refused', async () => {
      registry.handle = (_req, res) => {
        res.writeHead(202, { location: 'http://127.0.0.1:1/v2/svc/blobs/uploads/x' });
        res.end();
      };
      await assert.rejects(client().uploadBlob('svc', sha(blob), blob), /sent the upload to http:/);
      assert.equal(registry.seen.length, 1);
    });

    test('a manifest is PUT with its media type; a registry naming another digest is an error', async () => {
      registry.handle = upload((res) => {
        res.writeHead(201, { 'docker-content-digest': sha(manifest) });
        res.end();
      });
      const digest = await client().putManifest('svc', sha(manifest), MEDIA_TYPES.ociManifest, manifest);
      assert.equal(digest, sha(manifest));
      assert.equal(registry.seen[0]?.url, `/v2/svc/manifests/${sha(manifest)}`);
      assert.deepEqual(bodies[0], { type: MEDIA_TYPES.ociManifest, body: manifest });

      registry.handle = upload((res) => {
        res.writeHead(201, { 'docker-content-digest': sha('something else') });
        res.end();
      });
      await assert.rejects(
        client().putManifest('svc', '1.2.3', MEDIA_TYPES.ociManifest, manifest),
        /stored sha256:[0-9a-f]{64}, not sha256:/,
      );
      await assert.rejects(
        client().putManifest('svc', sha('other'), MEDIA_TYPES.ociManifest, manifest),
        /to PUT as sha256:[0-9a-f]{64} hashes to/,
      );
    });

    test('TAG_INVALID is not retried and keeps its code; 401 says the role may push', async () => {
      registry.handle = (_req, res) => registryError(res, 400, 'TAG_INVALID', 'tag is immutable');
      await assert.rejects(
        client().putManifest('svc', '1.2.3', MEDIA_TYPES.ociManifest, manifest),
        (error) => {
          assert.ok(error instanceof HttpStatusError);
          assert.equal(error.code, 'TAG_INVALID');
          return true;
        },
      );
      assert.equal(registry.seen.length, 1);
      registry.handle = (_req, res) => registryError(res, 401, 'DENIED');
      await assert.rejects(client().uploadBlob('svc', sha(blob), blob), (error: HttpStatusError) => {
        assert.match(error.hint ?? '', /may push to this repository/);
        return true;
      });
    });
  });
}
