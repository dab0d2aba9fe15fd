// HTTP(S) client with Go's trust rules: SSL_CERT_FILE / SSL_CERT_DIR replace the roots, NODE_EXTRA_CA_CERTS is ignored;
// and Go's proxy rules: HTTPS_PROXY/HTTP_PROXY/NO_PROXY (httpproxy.ts), https tunnelled with CONNECT.
import { readdirSync, readFileSync } from 'node:fs';
import http, { type IncomingHttpHeaders } from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import { environmentProxyConfig, proxyFor } from './httpproxy.ts';

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

/** A failure with an error code and whether Go would call it temporary (worth retrying). */
class TransportError extends Error {
  readonly temporary: boolean;
  readonly code: string;
  constructor(message: string, code: string, temporary: boolean) {
    super(message);
    this.code = code;
    this.temporary = temporary;
  }
}

/** A transport-level failure, worded like Go's `*url.Error`. */
export class NetError extends TransportError {}

/** A failure reaching or talking through the proxy, already worded as Go's transport words it (toNetError wraps it). */
class ProxyError extends TransportError {}

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

/** `host:port` of a URL as Go dials it (default port by scheme, IPv6 in brackets). */
function dialAddress(u: URL): string {
  return `${u.hostname}:${u.port || (u.protocol === 'https:' ? '443' : '80')}`;
}

/** Go's words for a failed dial of `hostPort`, or undefined for errors that are not about dialing. */
function dialDetail(code: string | undefined, hostPort: string, hostname: string): string | undefined {
  if (code === 'ECONNREFUSED') return `dial tcp ${hostPort}: connect: connection refused`;
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return `dial tcp: lookup ${hostname}: no such host`;
  if (code === 'ETIMEDOUT') return `dial tcp ${hostPort}: i/o timeout`;
  return undefined;
}

/** Go wraps every failure to reach the proxy itself as `proxyconnect tcp: <dial error>`. */
function proxyDialError(proxy: URL, error: NodeJS.ErrnoException): ProxyError {
  const code = error.code ?? 'UNKNOWN';
  const detail = dialDetail(code, dialAddress(proxy), proxy.hostname) ?? error.message;
  return new ProxyError(`proxyconnect tcp: ${detail}`, code, false);
}

/** `Basic …` from the proxy URL's user info, as Go's connectMethod.proxyAuth builds it. */
function proxyAuthorization(proxy: URL): string | undefined {
  if (!proxy.username && !proxy.password) return undefined;
  const user = `${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`;
  return `Basic ${Buffer.from(user).toString('base64')}`;
}

/** Connects to the proxy and asks for a CONNECT tunnel to `target` (`host:port`); resolves with the open socket. */
function openTunnel(proxy: URL, target: string): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    const host = proxy.hostname.replace(/^\[(.*)\]$/, '$1');
    const port = Number(proxy.port || (proxy.protocol === 'https:' ? 443 : 80));
    const socket =
      proxy.protocol === 'https:'
        ? tls.connect({ host, port, servername: net.isIP(host) ? '' : host, ca: trustedRoots() })
        : net.connect({ host, port });
    let connected = false;
    let buffered = Buffer.alloc(0);
    const fail = (error: Error) => {
      socket.destroy();
      reject(error);
    };
    const onError = (error: NodeJS.ErrnoException) => {
      if (!connected) return fail(proxyDialError(proxy, error));
      // After the dial, Go returns the read error of the CONNECT answer as it is.
      const reset = error.code === 'ECONNRESET';
      fail(
        new ProxyError(
          reset ? `read tcp ${dialAddress(proxy)}: read: connection reset by peer` : error.message,
          error.code ?? 'UNKNOWN',
          true,
        ),
      );
    };
    socket.on('error', onError);
    socket.once(proxy.protocol === 'https:' ? 'secureConnect' : 'connect', () => {
      connected = true;
      const auth = proxyAuthorization(proxy);
      socket.write(
        `CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\nUser-Agent: Go-http-client/1.1\r\n` +
          `${auth ? `Proxy-Authorization: ${auth}\r\n` : ''}\r\n`,
      );
    });
    const onData = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      const end = buffered.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onData);
      socket.off('end', onEnd);
      const statusLine = buffered.subarray(0, buffered.indexOf('\r\n')).toString('latin1');
      const m = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(statusLine);
      if (m?.[1] === '200') {
        // From here on the TLS socket layered on top reports the tunnel's failures to the request.
        socket.off('error', onError);
        socket.on('error', () => {});
        const rest = buffered.subarray(end + 4);
        // The TLS server speaks only when spoken to, so nothing should follow the answer; keep it if it does.
        if (rest.length > 0) socket.unshift(rest);
        return resolve(socket);
      }
      // Go returns the status text alone, e.g. "Proxy Authentication Required".
      const text = m ? (m[2] ?? '') : '';
      fail(new ProxyError(m ? text : 'malformed HTTP response', 'EPROXY', false));
    };
    const onEnd = () => fail(new ProxyError(buffered.length > 0 ? 'unexpected EOF' : 'EOF', 'EOF', true));
    socket.on('data', onData);
    socket.on('end', onEnd);
  });
}

/** An https agent whose connections are CONNECT tunnels through `proxy`; TLS inside them as without a proxy. */
class TunnelAgent extends https.Agent {
  readonly #proxy: URL;
  readonly #insecure: boolean;
  constructor(proxy: URL, insecure: boolean) {
    super({ keepAlive: true, ca: trustedRoots(), rejectUnauthorized: !insecure });
    this.#proxy = proxy;
    this.#insecure = insecure;
  }

  override createConnection(
    options: https.RequestOptions,
    callback?: (err: Error | null, stream: Duplex) => void,
  ): Duplex | null | undefined {
    const host = String(options.hostname ?? options.host ?? 'localhost').replace(/^\[(.*)\]$/, '$1');
    const target = `${net.isIP(host) === 6 ? `[${host}]` : host}:${options.port ?? 443}`;
    openTunnel(this.#proxy, target).then(
      (socket) => {
        const secure = tls.connect({
          socket,
          servername: net.isIP(host) ? '' : host,
          ca: trustedRoots(),
          rejectUnauthorized: !this.#insecure,
        });
        callback?.(null, secure);
      },
      (error: Error) => callback?.(error, undefined as unknown as Duplex),
    );
    return undefined;
  }
}

const tunnelAgents = new Map<string, TunnelAgent>();
function tunnelAgentFor(proxy: URL, insecure: boolean): TunnelAgent {
  const key = `${proxy.href} ${insecure}`;
  let agent = tunnelAgents.get(key);
  if (!agent) {
    agent = new TunnelAgent(proxy, insecure);
    tunnelAgents.set(key, agent);
  }
  return agent;
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

function toNetError(method: string, url: string, error: NodeJS.ErrnoException, proxy?: URL): NetError {
  if (error instanceof ProxyError)
    return new NetError(`${goOp(method)} "${url}": ${error.message}`, error.code, error.temporary);
  // A plain http:// request through a proxy dials the proxy, and Go says so.
  const proxied = proxy && dialDetail(error.code, dialAddress(proxy), proxy.hostname);
  if (proxy && proxied) return toNetError(method, url, proxyDialError(proxy, error));
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
    let proxy: URL | undefined;
    try {
      proxy = proxyFor(environmentProxyConfig(), u);
    } catch (error) {
      reject(new NetError(`${goOp(method)} "${url}": ${(error as Error).message}`, 'EPROXY', false));
      return;
    }
    if (proxy && proxy.protocol !== 'http:' && proxy.protocol !== 'https:') {
      reject(
        new NetError(
          `${goOp(method)} "${url}": stand-in: ${proxy.protocol} proxies are not emulated`,
          'EPROXY',
          false,
        ),
      );
      return;
    }
    // https: a CONNECT tunnel; http: the request goes to the proxy in absolute form with the proxy's credentials.
    const viaProxyHttp = proxy !== undefined && !isHttps;
    let req: http.ClientRequest;
    const onResponse = (res: http.IncomingMessage) => {
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
        reject(toNetError(method, url, error as NodeJS.ErrnoException, viaProxyHttp ? proxy : undefined));
      });
    };
    if (proxy && viaProxyHttp) {
      const auth = proxyAuthorization(proxy);
      req = (proxy.protocol === 'https:' ? https : http).request(
        {
          host: proxy.hostname.replace(/^\[(.*)\]$/, '$1'),
          port: Number(proxy.port || (proxy.protocol === 'https:' ? 443 : 80)),
          method,
          path: u.href,
          headers: { ...headers, Host: u.host, ...(auth ? { 'Proxy-Authorization': auth } : {}) },
          agent: proxy.protocol === 'https:' ? agentFor(false) : httpAgent,
        },
        onResponse,
      );
    } else {
      const agent = proxy
        ? tunnelAgentFor(proxy, options.insecureSkipVerify === true)
        : isHttps
          ? agentFor(options.insecureSkipVerify === true)
          : httpAgent;
      req = (isHttps ? https : http).request(u, { method, headers, agent }, onResponse);
    }
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
      else reject(toNetError(method, url, error as NodeJS.ErrnoException, viaProxyHttp ? proxy : undefined));
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
