// HTTP(S) client with Go's trust rules: SSL_CERT_FILE / SSL_CERT_DIR replace the roots, NODE_EXTRA_CA_CERTS is ignored.
import { readdirSync, readFileSync } from 'node:fs';
import http, { type IncomingHttpHeaders } from 'node:http';
import https from 'node:https';
import { join } from 'node:path';
import tls from 'node:tls';

export interface HttpResponse {
  status: number;
  statusText: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  url: string;
}

export interface RequestOptions {
  headers?: Record<string, string>;
  body?: Buffer | string;
  /** Absolute time (ms since epoch) after which the request fails with `context deadline exceeded`. */
  deadline?: number;
  insecureSkipVerify?: boolean;
}

/** A transport-level failure, worded like Go's `*url.Error`. */
export class NetError extends Error {
  readonly temporary: boolean;
  readonly code: string;
  constructor(message: string, code: string, temporary: boolean) {
    super(message);
    this.code = code;
    this.temporary = temporary;
  }
}

export class DeadlineError extends Error {
  constructor() {
    super('context deadline exceeded');
  }
}

let cachedCa: string[] | undefined;

/** Go's crypto/x509 on Linux: SSL_CERT_FILE and SSL_CERT_DIR override the system roots. */
export function trustedRoots(): string[] {
  if (cachedCa) return cachedCa;
  const file = process.env['SSL_CERT_FILE'];
  const dirs = process.env['SSL_CERT_DIR'];
  if (file === undefined && dirs === undefined) {
    // The analogue of Go's system pool; deliberately not node's default, which adds NODE_EXTRA_CA_CERTS.
    cachedCa = [...tls.rootCertificates];
    return cachedCa;
  }
  const pems: string[] = [];
  if (file) {
    try {
      pems.push(readFileSync(file, 'utf8'));
    } catch {
      // Go ignores an unreadable SSL_CERT_FILE; verification then fails with "unknown authority".
    }
  }
  for (const dir of (dirs ?? '').split(':').filter(Boolean)) {
    try {
      for (const name of readdirSync(dir)) {
        try {
          pems.push(readFileSync(join(dir, name), 'utf8'));
        } catch {}
      }
    } catch {}
  }
  cachedCa = pems;
  return cachedCa;
}

const agents = new Map<string, https.Agent>();
function agentFor(insecure: boolean): https.Agent {
  const key = insecure ? 'insecure' : 'secure';
  let agent = agents.get(key);
  if (!agent) {
    agent = new https.Agent({ keepAlive: true, ca: trustedRoots(), rejectUnauthorized: !insecure });
    agents.set(key, agent);
  }
  return agent;
}
const httpAgent = new http.Agent({ keepAlive: true });

const TLS_UNKNOWN_AUTHORITY = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_ISSUER_CERT',
]);

function goOp(method: string): string {
  return method.charAt(0) + method.slice(1).toLowerCase();
}

function toNetError(method: string, url: string, error: NodeJS.ErrnoException): NetError {
  const code = error.code ?? 'UNKNOWN';
  const u = new URL(url);
  const hostPort = `${u.hostname}:${u.port || (u.protocol === 'https:' ? '443' : '80')}`;
  let detail: string;
  let temporary = false;
  if (TLS_UNKNOWN_AUTHORITY.has(code)) {
    detail = 'tls: failed to verify certificate: x509: certificate signed by unknown authority';
  } else if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    detail = `tls: failed to verify certificate: x509: certificate is valid for other names, not ${u.hostname}`;
  } else if (code === 'CERT_HAS_EXPIRED') {
    detail = 'tls: failed to verify certificate: x509: certificate has expired or is not yet valid';
  } else if (code === 'ECONNREFUSED') {
    detail = `dial tcp ${hostPort}: connect: connection refused`;
  } else if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    detail = `dial tcp: lookup ${u.hostname}: no such host`;
    temporary = code === 'EAI_AGAIN';
  } else if (code === 'ECONNRESET') {
    detail = `read tcp ${hostPort}: read: connection reset by peer`;
    temporary = true;
  } else if (code === 'EPIPE') {
    detail = `write tcp ${hostPort}: write: broken pipe`;
    temporary = true;
  } else if (code === 'ETIMEDOUT' || code === 'ECONNABORTED') {
    detail = `dial tcp ${hostPort}: i/o timeout`;
    temporary = true;
  } else if (/socket hang up|premature close/i.test(error.message)) {
    detail = 'EOF';
    temporary = true;
  } else if (/wrong version number|packet length too long|EPROTO/i.test(`${code} ${error.message}`)) {
    detail = 'http: server gave HTTP response to HTTPS client';
  } else {
    detail = error.message;
  }
  return new NetError(`${goOp(method)} "${url}": ${detail}`, code, temporary);
}

export function request(method: string, url: string, options: RequestOptions = {}): Promise<HttpResponse> {
  const u = new URL(url);
  const isHttps = u.protocol === 'https:';
  const body = options.body === undefined ? undefined : Buffer.from(options.body);
  const headers: Record<string, string> = { 'User-Agent': 'standin', ...options.headers };
  if (body) headers['Content-Length'] = String(body.length);
  else if (method === 'POST' || method === 'PUT' || method === 'PATCH') headers['Content-Length'] = '0';
  return new Promise<HttpResponse>((resolve, reject) => {
    if (options.deadline !== undefined && Date.now() >= options.deadline) {
      reject(new DeadlineError());
      return;
    }
    const mod = isHttps ? https : http;
    const req = mod.request(
      u,
      {
        method,
        headers,
        agent: isHttps ? agentFor(options.insecureSkipVerify === true) : httpAgent,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          clearTimeout(timer);
          resolve({
            status: res.statusCode ?? 0,
            statusText: res.statusMessage ?? '',
            headers: res.headers,
            body: Buffer.concat(chunks),
            url,
          });
        });
        res.on('error', (error) => {
          clearTimeout(timer);
          reject(toNetError(method, url, error as NodeJS.ErrnoException));
        });
      },
    );
    let timedOut = false;
    const timer =
      options.deadline === undefined
        ? undefined
        : setTimeout(
            () => {
              timedOut = true;
              req.destroy(new DeadlineError());
            },
            Math.max(0, options.deadline - Date.now()),
          );
    req.on('error', (error) => {
      clearTimeout(timer);
      if (timedOut || error instanceof DeadlineError) reject(new DeadlineError());
      else reject(toNetError(method, url, error as NodeJS.ErrnoException));
    });
    if (body) req.end(body);
    else req.end();
  });
}

export function header(res: HttpResponse, name: string): string | undefined {
  const v = res.headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

/** Go's http.StatusText for the codes registries answer with. */
export function statusText(code: number): string {
  const texts: Record<number, string> = {
    200: 'OK',
    201: 'Created',
    202: 'Accepted',
    204: 'No Content',
    307: 'Temporary Redirect',
    400: 'Bad Request',
    401: 'Unauthorized',
    403: 'Forbidden',
    404: 'Not Found',
    405: 'Method Not Allowed',
    408: 'Request Timeout',
    409: 'Conflict',
    429: 'Too Many Requests',
    500: 'Internal Server Error',
    502: 'Bad Gateway',
    503: 'Service Unavailable',
    504: 'Gateway Timeout',
  };
  return texts[code] ?? '';
}
