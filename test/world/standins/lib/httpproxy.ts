// Which proxy a Go program's net/http uses for a URL: golang.org/x/net/http/httpproxy (ProxyFromEnvironment) rules.
import { isIP } from 'node:net';

/** A parsed NO_PROXY entry. */
type Matcher =
  | { kind: 'all' }
  | { kind: 'cidr'; net: Uint8Array; bits: number; v4: boolean }
  | { kind: 'ip'; ip: Uint8Array; port: string }
  | { kind: 'domain'; suffix: string; port: string; matchHost: boolean };

export interface ProxyConfig {
  /** HTTP_PROXY, else http_proxy: for http:// URLs. */
  readonly httpProxy: URL | undefined;
  /** HTTPS_PROXY, else https_proxy: for https:// URLs (never HTTP_PROXY). */
  readonly httpsProxy: URL | undefined;
  /** REQUEST_METHOD is set: HTTP_PROXY could come from a client's Proxy: header, so Go refuses it. */
  readonly cgi: boolean;
  readonly ipMatchers: readonly Matcher[];
  readonly domainMatchers: readonly Matcher[];
}

/** Go's CGI guard (golang.org/s/cgihttpproxy), raised for an http:// URL when HTTP_PROXY applies. */
export class CgiProxyError extends Error {
  constructor() {
    super('refusing to use HTTP_PROXY value in CGI environment; see golang.org/s/cgihttpproxy');
  }
}

type Env = Readonly<Record<string, string | undefined>>;

/** The first of the names that is set and not empty (an empty HTTPS_PROXY falls through to https_proxy). */
function getEnvAny(env: Env, ...names: string[]): string {
  for (const name of names) {
    const value = env[name];
    if (value) return value;
  }
  return '';
}

/** A proxy value: a URL with scheme http, https or socks5, else `host[:port]` read as `http://host[:port]`. */
export function parseProxyUrl(value: string): URL | undefined {
  if (!value) return undefined;
  let parsed: URL | undefined;
  try {
    parsed = new URL(value);
  } catch {}
  if (parsed && ['http:', 'https:', 'socks5:'].includes(parsed.protocol)) return parsed;
  try {
    return new URL(`http://${value}`);
  } catch {
    // Go keeps a URL of another scheme when prepending fails; an unparsable value means no proxy.
    return parsed;
  }
}

/** 16 bytes of an IPv4 or IPv6 address (IPv4 as ::ffff:a.b.c.d, as Go stores it), or undefined. */
export function parseIp(text: string): Uint8Array | undefined {
  if (text.includes('%')) return undefined;
  const family = isIP(text);
  const out = new Uint8Array(16);
  if (family === 4) {
    out[10] = 0xff;
    out[11] = 0xff;
    text.split('.').forEach((part, i) => {
      out[12 + i] = Number(part);
    });
    return out;
  }
  if (family !== 6) return undefined;
  let body = text;
  const tail: number[] = [];
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(body);
  if (v4?.[1]) {
    for (const part of v4[1].split('.')) tail.push(Number(part));
    body = `${body.slice(0, -v4[1].length)}0:0`;
  }
  const [head = '', rest] = body.split('::');
  const words = (s: string) => (s === '' ? [] : s.split(':').map((w) => Number.parseInt(w, 16)));
  const left = words(head);
  const right = rest === undefined ? [] : words(rest);
  const all = [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
  all.forEach((word, i) => {
    out[i * 2] = word >> 8;
    out[i * 2 + 1] = word & 0xff;
  });
  if (tail.length === 4) out.set(tail, 12);
  return out;
}

/** Go's ip.To4() != nil: an IPv4 address or an IPv4-mapped IPv6 one. */
const isV4 = (ip: Uint8Array) =>
  ip.subarray(0, 10).every((b) => b === 0) && ip[10] === 0xff && ip[11] === 0xff;

function isLoopbackIp(ip: Uint8Array): boolean {
  if (isV4(ip)) return ip[12] === 127;
  return ip.subarray(0, 15).every((b) => b === 0) && ip[15] === 1;
}

function equalIp(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

function parseCidr(text: string): Matcher | undefined {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(text);
  if (!m?.[1] || !m[2]) return undefined;
  const ip = parseIp(m[1]);
  if (!ip) return undefined;
  const v4 = isIP(m[1]) === 4;
  const prefix = Number(m[2]);
  if (prefix > (v4 ? 32 : 128)) return undefined;
  return { kind: 'cidr', net: ip, bits: v4 ? 96 + prefix : prefix, v4: v4 || isV4(ip) };
}

function inCidr(m: { net: Uint8Array; bits: number; v4: boolean }, ip: Uint8Array): boolean {
  // Go compares an IPv4 address only with an IPv4 network and an IPv6 one only with an IPv6 network.
  if (m.v4 !== isV4(ip)) return false;
  for (let bit = 0; bit < m.bits; bit++) {
    const mask = 0x80 >> (bit % 8);
    if (((m.net[bit >> 3] ?? 0) & mask) !== ((ip[bit >> 3] ?? 0) & mask)) return false;
  }
  return true;
}

/** Go's net.SplitHostPort: `host:port` or `[v6]:port`, brackets removed; undefined when malformed. */
export function splitHostPort(text: string): { host: string; port: string } | undefined {
  if (text.startsWith('[')) {
    const end = text.indexOf(']');
    if (end < 0 || text[end + 1] !== ':') return undefined;
    const host = text.slice(1, end);
    const port = text.slice(end + 2);
    if (/[[\]]/.test(host) || /[[\]]/.test(port)) return undefined;
    return { host, port };
  }
  const i = text.lastIndexOf(':');
  if (i < 0) return undefined;
  const host = text.slice(0, i);
  const port = text.slice(i + 1);
  if (host.includes(':') || /[[\]]/.test(host) || /[[\]]/.test(port)) return undefined;
  return { host, port };
}

/** Parses the NO_PROXY list the way httpproxy's config.init does; malformed entries are skipped. */
function parseNoProxy(list: string): { ipMatchers: Matcher[]; domainMatchers: Matcher[] } {
  const ipMatchers: Matcher[] = [];
  const domainMatchers: Matcher[] = [];
  for (const raw of list.split(',')) {
    const entry = raw.trim().toLowerCase();
    if (!entry) continue;
    if (entry === '*') return { ipMatchers: [{ kind: 'all' }], domainMatchers: [{ kind: 'all' }] };
    const cidr = parseCidr(entry);
    if (cidr) {
      ipMatchers.push(cidr);
      continue;
    }
    const split = splitHostPort(entry);
    if (split && !split.host) continue;
    let host = split ? split.host : entry;
    const port = split ? split.port : '';
    const ip = parseIp(host);
    if (ip) {
      ipMatchers.push({ kind: 'ip', ip, port });
      continue;
    }
    if (!host) continue;
    // "*.example.com" is ".example.com"; "example.com" also matches itself, ".example.com" only subdomains.
    if (host.startsWith('*.')) host = host.slice(1);
    const matchHost = !host.startsWith('.');
    domainMatchers.push({ kind: 'domain', suffix: matchHost ? `.${host}` : host, port, matchHost });
  }
  return { ipMatchers, domainMatchers };
}

/** Reads HTTP_PROXY/http_proxy, HTTPS_PROXY/https_proxy, NO_PROXY/no_proxy and REQUEST_METHOD. */
export function proxyConfig(env: Env = process.env): ProxyConfig {
  return {
    httpProxy: parseProxyUrl(getEnvAny(env, 'HTTP_PROXY', 'http_proxy')),
    httpsProxy: parseProxyUrl(getEnvAny(env, 'HTTPS_PROXY', 'https_proxy')),
    cgi: Boolean(env['REQUEST_METHOD']),
    ...parseNoProxy(getEnvAny(env, 'NO_PROXY', 'no_proxy')),
  };
}

const DEFAULT_PORT: Record<string, string> = { 'http:': '80', 'https:': '443', 'socks5:': '1080' };

/** Whether a request to `url` goes through the proxy: never for localhost or loopback IPs, else unless NO_PROXY matches. */
export function useProxy(config: ProxyConfig, url: URL): boolean {
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  const port = url.port || DEFAULT_PORT[url.protocol] || '';
  if (host === 'localhost') return false;
  const ip = parseIp(host);
  if (ip && isLoopbackIp(ip)) return false;
  if (ip) {
    for (const m of config.ipMatchers) {
      if (m.kind === 'all') return false;
      if (m.kind === 'cidr' && inCidr(m, ip)) return false;
      if (m.kind === 'ip' && equalIp(m.ip, ip) && (m.port === '' || m.port === port)) return false;
    }
  }
  for (const m of config.domainMatchers) {
    if (m.kind === 'all') return false;
    if (m.kind !== 'domain') continue;
    if (
      (host.endsWith(m.suffix) || (m.matchHost && host === m.suffix.slice(1))) &&
      (m.port === '' || m.port === port)
    )
      return false;
  }
  return true;
}

/** The proxy for `url`, or undefined for a direct connection; throws CgiProxyError as Go's ProxyFunc errs. */
export function proxyFor(config: ProxyConfig, url: URL): URL | undefined {
  let proxy: URL | undefined;
  if (url.protocol === 'https:') proxy = config.httpsProxy;
  else if (url.protocol === 'http:') {
    proxy = config.httpProxy;
    if (proxy && config.cgi) throw new CgiProxyError();
  }
  if (!proxy || !useProxy(config, url)) return undefined;
  return proxy;
}

let fromEnvironment: ProxyConfig | undefined;
/** The process's configuration, read once as net/http's envProxyFunc does. */
export function environmentProxyConfig(): ProxyConfig {
  fromEnvironment ??= proxyConfig(process.env);
  return fromEnvironment;
}
