import { BlockList, isIP } from 'node:net';
import * as core from '@actions/core';
import { ActionError, show } from './errors.ts';

/**
 * The runner's proxy settings, read by the rules of the Go tools the action runs (golang.org/x/net/http/httpproxy,
 * which flux, cosign and tbot use), so the action and its tools take the same way to every host:
 * HTTPS_PROXY before https_proxy (never HTTP_PROXY for an https URL), NO_PROXY before no_proxy, and localhost
 * and loopback addresses always direct.
 */
export interface Proxies {
  /** For https:// URLs: HTTPS_PROXY, else https_proxy. */
  readonly https: URL | undefined;
  /** For http:// URLs: HTTP_PROXY, else http_proxy. */
  readonly http: URL | undefined;
  readonly noProxy: NoProxy;
}

/** NO_PROXY as Go reads it: `*`, CIDRs, IPs and domains, each IP or domain optionally with a port. */
interface NoProxy {
  all: boolean;
  subnets: BlockList;
  /** Exact IPs, with the port they apply to ('' for any). */
  ips: { ip: string; port: string }[];
  /** `suffix` is `.example.com`; `self` says whether `example.com` itself matches (no leading dot was written). */
  domains: { suffix: string; self: boolean; port: string }[];
}

export const DIRECT: Proxies = {
  https: undefined,
  http: undefined,
  noProxy: { all: false, subnets: new BlockList(), ips: [], domains: [] },
};

type Env = Readonly<Record<string, string | undefined>>;

/** The first of the variables that is set and not empty, with its name. */
function firstSet(env: Env, ...names: string[]): { name: string; value: string } | undefined {
  for (const name of names) {
    const value = env[name];
    if (value) return { name, value };
  }
  return undefined;
}

/** A proxy URL as messages show it: scheme, host and port, never credentials. */
export const proxyName = (proxy: URL): string => `${proxy.protocol}//${proxy.host}`;

/** A percent-encoded part, decoded; as written when it is not valid percent-encoding. */
function decoded(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}

/** A proxy variable's value as errors show it, with a password replaced. */
const hidden = (value: string): string => value.replace(/\/\/([^:/@]*):[^@/]*@/, '//$1:***@');

/** `host:port` or a URL; Go reads a value without a scheme as `http://…`. Credentials are masked at once. */
function parseProxy(variable: { name: string; value: string } | undefined): URL | undefined {
  if (!variable) return undefined;
  const { name, value } = variable;
  let url: URL | undefined;
  try {
    url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `http://${value}`);
  } catch {
    url = undefined;
  }
  // Masked as written and as decoded, before any message can quote the variable.
  if (url?.password)
    for (const secret of new Set([url.password, decoded(url.password)])) core.setSecret(secret);
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || !url.hostname) {
    throw new ActionError(
      `${name} is ${show(hidden(value))}, which is not a proxy the action can use. Allowed: http://[user:password@]host:port or https://…`,
      { hint: `fix ${name} in the runner's environment, or unset it` },
    );
  }
  return url;
}

function parseNoProxy(value: string): NoProxy {
  const rules: NoProxy = { all: false, subnets: new BlockList(), ips: [], domains: [] };
  for (const raw of value.split(',')) {
    const entry = raw.trim().toLowerCase();
    if (entry === '') continue;
    if (entry === '*') {
      rules.all = true;
      continue;
    }
    const cidr = /^(.+)\/(\d{1,3})$/.exec(entry);
    if (cidr) {
      const family = isIP(cidr[1] as string);
      if (family !== 0)
        rules.subnets.addSubnet(cidr[1] as string, Number(cidr[2]), family === 4 ? 'ipv4' : 'ipv6');
      continue;
    }
    const { host, port } = splitHostPort(entry);
    if (host === '') continue;
    if (isIP(host) !== 0) {
      rules.ips.push({ ip: host, port });
      continue;
    }
    // `.example.com` and `*.example.com` mean the subdomains only; `example.com` the domain and its subdomains.
    const bare = host.replace(/^\*?\./, '');
    rules.domains.push({ suffix: `.${bare}`, self: bare === host, port });
  }
  return rules;
}

/** `host[:port]`, `[v6]:port` or a bare IPv6 address, lower-cased. */
function splitHostPort(value: string): { host: string; port: string } {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(value);
  if (bracketed) return { host: bracketed[1] as string, port: bracketed[2] ?? '' };
  if (isIP(value) === 6) return { host: value, port: '' };
  const at = value.lastIndexOf(':');
  return at === -1 ? { host: value, port: '' } : { host: value.slice(0, at), port: value.slice(at + 1) };
}

/** Reads and checks the proxy variables; a value that cannot be a proxy fails before any request. */
export function readProxies(env: Env): Proxies {
  return {
    https: parseProxy(firstSet(env, 'HTTPS_PROXY', 'https_proxy')),
    http: parseProxy(firstSet(env, 'HTTP_PROXY', 'http_proxy')),
    noProxy: parseNoProxy(firstSet(env, 'NO_PROXY', 'no_proxy')?.value ?? ''),
  };
}

/** The proxy a request to `url` goes through, or undefined to go direct. */
export function proxyFor(proxies: Proxies, url: URL): URL | undefined {
  const proxy =
    url.protocol === 'https:' ? proxies.https : url.protocol === 'http:' ? proxies.http : undefined;
  if (!proxy) return undefined;
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  const family = isIP(host);
  if (host === 'localhost' || (family !== 0 && isLoopback(host, family))) return undefined;
  const rules = proxies.noProxy;
  if (rules.all) return undefined;
  const portMatches = (wanted: string) => wanted === '' || wanted === port;
  if (family !== 0) {
    if (rules.subnets.check(host, family === 4 ? 'ipv4' : 'ipv6')) return undefined;
    if (rules.ips.some((rule) => rule.ip === host && portMatches(rule.port))) return undefined;
  }
  const matched = rules.domains.some(
    (rule) =>
      portMatches(rule.port) && (host.endsWith(rule.suffix) || (rule.self && `.${host}` === rule.suffix)),
  );
  return matched ? undefined : proxy;
}

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');
LOOPBACK.addSubnet('::ffff:127.0.0.0', 104, 'ipv6');

function isLoopback(host: string, family: number): boolean {
  return LOOPBACK.check(host, family === 4 ? 'ipv4' : 'ipv6');
}
