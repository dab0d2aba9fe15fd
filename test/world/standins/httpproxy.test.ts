// The stand-ins' proxy choice as a table: golang.org/x/net/http/httpproxy's rules (FromEnvironment, ProxyFunc, useProxy).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  CgiProxyError,
  parseIp,
  parseProxyUrl,
  proxyConfig,
  proxyFor,
  splitHostPort,
} from './lib/httpproxy.ts';

const P = 'http://proxy.corp:3128/';
const Q = 'http://other.corp:8080/';

/** [environment, request URL, the proxy Go picks (href) or null for a direct connection]. */
const TABLE: Array<[Record<string, string>, string, string | null]> = [
  // Which variable: HTTPS_PROXY then https_proxy for https, HTTP_PROXY then http_proxy for http, no crossing over.
  [{ HTTPS_PROXY: P }, 'https://example.com/', P],
  [{ https_proxy: P }, 'https://example.com/', P],
  [{ HTTPS_PROXY: P, https_proxy: Q }, 'https://example.com/', P],
  [{ HTTPS_PROXY: '', https_proxy: Q }, 'https://example.com/', Q],
  [{ HTTP_PROXY: P }, 'https://example.com/', null],
  [{ http_proxy: P }, 'https://example.com/', null],
  [{ HTTP_PROXY: P }, 'http://example.com/', P],
  [{ http_proxy: Q }, 'http://example.com/', Q],
  [{ HTTPS_PROXY: P }, 'http://example.com/', null],
  [{}, 'https://example.com/', null],
  // Values without a scheme are http://host:port.
  [{ HTTPS_PROXY: '127.0.0.1:3128' }, 'https://example.com/', 'http://127.0.0.1:3128/'],
  [{ HTTPS_PROXY: 'proxy.corp:3128' }, 'https://example.com/', P],
  [{ HTTPS_PROXY: 'https://proxy.corp:3129' }, 'https://example.com/', 'https://proxy.corp:3129/'],
  // localhost and loopback IPs never go through a proxy, whatever NO_PROXY says.
  [{ HTTPS_PROXY: P }, 'https://localhost:8443/', null],
  [{ HTTPS_PROXY: P }, 'https://127.0.0.1:8443/', null],
  [{ HTTPS_PROXY: P }, 'https://127.9.9.9/', null],
  [{ HTTPS_PROXY: P }, 'https://[::1]:8443/', null],
  [{ HTTPS_PROXY: P }, 'https://[::2]/', P],
  [{ HTTPS_PROXY: P }, 'https://localhost.example.com/', P],
  // NO_PROXY: '*' alone or in a list turns proxying off.
  [{ HTTPS_PROXY: P, NO_PROXY: '*' }, 'https://example.com/', null],
  [{ HTTPS_PROXY: P, NO_PROXY: 'foo.com, *' }, 'https://example.com/', null],
  // A domain matches itself and its subdomains, not names that merely end the same.
  [{ HTTPS_PROXY: P, NO_PROXY: 'example.com' }, 'https://example.com/', null],
  [{ HTTPS_PROXY: P, NO_PROXY: 'example.com' }, 'https://api.example.com/', null],
  [{ HTTPS_PROXY: P, NO_PROXY: 'example.com' }, 'https://notexample.com/', P],
  // A leading '.' (or '*.') matches subdomains only.
  [{ HTTPS_PROXY: P, NO_PROXY: '.example.com' }, 'https://api.example.com/', null],
  [{ HTTPS_PROXY: P, NO_PROXY: '.example.com' }, 'https://example.com/', P],
  [{ HTTPS_PROXY: P, NO_PROXY: '*.example.com' }, 'https://a.b.example.com/', null],
  [{ HTTPS_PROXY: P, NO_PROXY: '*.example.com' }, 'https://example.com/', P],
  // An optional port must then match the request's (default 443 for https, 80 for http).
  [{ HTTPS_PROXY: P, NO_PROXY: 'example.com:8443' }, 'https://example.com:8443/', null],
  [{ HTTPS_PROXY: P, NO_PROXY: 'example.com:8443' }, 'https://example.com/', P],
  [{ HTTPS_PROXY: P, NO_PROXY: 'example.com:443' }, 'https://example.com/', null],
  [{ HTTP_PROXY: P, NO_PROXY: 'example.com:80' }, 'http://example.com/', null],
  // Entries are trimmed and case-insensitive; empty and port-only entries are skipped.
  [{ HTTPS_PROXY: P, NO_PROXY: ' , Example.COM ,:443' }, 'https://API.example.com/', null],
  [{ HTTPS_PROXY: P, NO_PROXY: ':443' }, 'https://example.com/', P],
  // IPs, IPs with a port, CIDR blocks (which ignore ports), IPv6 forms.
  [{ HTTPS_PROXY: P, NO_PROXY: '10.1.2.3' }, 'https://10.1.2.3/', null],
  [{ HTTPS_PROXY: P, NO_PROXY: '10.1.2.3:8443' }, 'https://10.1.2.3/', P],
  [{ HTTPS_PROXY: P, NO_PROXY: '10.1.2.3:443' }, 'https://10.1.2.3/', null],
  [{ HTTPS_PROXY: P, NO_PROXY: '10.0.0.0/8' }, 'https://10.200.3.4:9999/', null],
  [{ HTTPS_PROXY: P, NO_PROXY: '10.0.0.0/8' }, 'https://11.0.0.1/', P],
  [{ HTTPS_PROXY: P, NO_PROXY: '10.0.0.0/8' }, 'https://10.example.com/', P],
  [{ HTTPS_PROXY: P, NO_PROXY: '2001:db8::/32' }, 'https://[2001:db8:1::5]/', null],
  [{ HTTPS_PROXY: P, NO_PROXY: '2001:db8::/32' }, 'https://10.0.0.1/', P],
  [{ HTTPS_PROXY: P, NO_PROXY: '[2001:db8::1]:443' }, 'https://[2001:db8::1]/', null],
  [{ HTTPS_PROXY: P, NO_PROXY: '2001:db8::1' }, 'https://[2001:db8::1]:8443/', null],
  // Domain entries are also compared with IP hosts as text, as Go does.
  [{ HTTPS_PROXY: P, NO_PROXY: '2.3' }, 'https://10.1.2.3/', null],
  // NO_PROXY wins over no_proxy; an empty NO_PROXY falls through to no_proxy.
  [{ HTTPS_PROXY: P, NO_PROXY: 'a.com', no_proxy: 'example.com' }, 'https://example.com/', P],
  [{ HTTPS_PROXY: P, NO_PROXY: '', no_proxy: 'example.com' }, 'https://example.com/', null],
  [{ https_proxy: P, no_proxy: 'example.com' }, 'https://example.com/', null],
  // The registry host of the action's default input, and an AWS-wide exclusion.
  [{ HTTPS_PROXY: P }, 'https://515260921971.dkr.ecr.us-west-2.amazonaws.com/v2/', P],
  [
    { HTTPS_PROXY: P, NO_PROXY: '.amazonaws.com' },
    'https://515260921971.dkr.ecr.us-west-2.amazonaws.com/v2/',
    null,
  ],
  [{ HTTPS_PROXY: P, NO_PROXY: 'amazonaws.com' }, 'https://sts.us-west-2.amazonaws.com/', null],
];

describe('stand-in proxy selection (golang.org/x/net/http/httpproxy)', () => {
  for (const [env, url, want] of TABLE) {
    test(`${JSON.stringify(env)} ${url} → ${want ?? 'direct'}`, () => {
      assert.equal(proxyFor(proxyConfig(env), new URL(url))?.href ?? null, want);
    });
  }

  test('CGI (REQUEST_METHOD set): HTTP_PROXY is refused for http URLs, HTTPS_PROXY still used', () => {
    const cgi = proxyConfig({ HTTP_PROXY: P, HTTPS_PROXY: Q, REQUEST_METHOD: 'GET' });
    assert.throws(() => proxyFor(cgi, new URL('http://example.com/')), CgiProxyError);
    assert.equal(proxyFor(cgi, new URL('https://example.com/'))?.href, Q);
    assert.equal(proxyFor(proxyConfig({ REQUEST_METHOD: 'GET' }), new URL('http://example.com/')), undefined);
  });

  test('helpers: proxy values, IPs and host:port split like Go', () => {
    assert.equal(parseProxyUrl(''), undefined);
    assert.equal(parseProxyUrl('socks5://s:1080')?.protocol, 'socks5:');
    assert.equal(parseProxyUrl('http://u:p%40ss@proxy:1')?.password, 'p%40ss');
    assert.deepEqual([...(parseIp('1.2.3.4') ?? [])].slice(10), [0xff, 0xff, 1, 2, 3, 4]);
    assert.deepEqual(parseIp('::ffff:1.2.3.4'), parseIp('1.2.3.4'));
    assert.equal(parseIp('fe80::1%eth0'), undefined);
    assert.equal(parseIp('example.com'), undefined);
    assert.deepEqual(splitHostPort('[::1]:80'), { host: '::1', port: '80' });
    assert.deepEqual(splitHostPort('a.com:'), { host: 'a.com', port: '' });
    assert.equal(splitHostPort('a.com'), undefined);
    assert.equal(splitHostPort('::1'), undefined);
  });
});
