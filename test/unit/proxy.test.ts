import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ActionError } from '../../src/errors.ts';
import { proxyFor, proxyName, readProxies } from '../../src/proxy.ts';

const via = (env: Record<string, string>, url: string): string | undefined =>
  proxyFor(readProxies(env), new URL(url))?.host;

describe('which variable names the proxy (Go httpproxy rules)', () => {
  test('upper case wins, an empty one falls through to lower case, and https never takes HTTP_PROXY', () => {
    assert.equal(
      via({ HTTPS_PROXY: 'upper:3128', https_proxy: 'lower:3128' }, 'https://a.example'),
      'upper:3128',
    );
    assert.equal(via({ HTTPS_PROXY: '', https_proxy: 'lower:3128' }, 'https://a.example'), 'lower:3128');
    assert.equal(via({ HTTP_PROXY: 'plain:3128' }, 'https://a.example'), undefined);
    assert.equal(via({ HTTP_PROXY: 'plain:3128' }, 'http://a.example'), 'plain:3128');
    assert.equal(via({ http_proxy: 'plain:3128' }, 'http://a.example'), 'plain:3128');
    assert.equal(via({}, 'https://a.example'), undefined);
  });

  test('a value without a scheme is http://; https:// proxies are kept; credentials never show in its name', () => {
    const proxies = readProxies({ HTTPS_PROXY: 'https://ci:s3cret@proxy.corp:8443' });
    assert.equal(proxies.https?.protocol, 'https:');
    assert.equal(proxyName(proxies.https as URL), 'https://proxy.corp:8443');
    assert.equal(readProxies({ HTTPS_PROXY: 'proxy.corp:3128' }).https?.href, 'http://proxy.corp:3128/');
  });

  test('a value that cannot be a proxy is an error naming the variable, with its password hidden', () => {
    for (const value of ['socks5://proxy:1080', 'http://', 'ftp://proxy:21', 'http://ci:s3cret@[bad']) {
      assert.throws(
        () => readProxies({ https_proxy: value }),
        (error: unknown) => {
          assert.ok(error instanceof ActionError);
          assert.match(error.message, /^https_proxy is ".*", which is not a proxy the action can use/);
          assert.doesNotMatch(error.message, /s3cret/);
          return true;
        },
        value,
      );
    }
  });
});

describe('what goes direct', () => {
  const env = (noProxy: string) => ({ HTTPS_PROXY: 'proxy:3128', NO_PROXY: noProxy });
  const cases: [noProxy: string, url: string, direct: boolean][] = [
    ['', 'https://localhost:8443/x', true],
    ['', 'https://127.0.0.1:8443/x', true],
    ['', 'https://127.9.9.9/x', true],
    ['', 'https://[::1]:8443/x', true],
    ['', 'https://sub.localhost/x', false],
    ['', 'https://sts.us-west-2.amazonaws.com/', false],
    ['*', 'https://sts.us-west-2.amazonaws.com/', true],
    ['amazonaws.com', 'https://sts.us-west-2.amazonaws.com/', true],
    ['amazonaws.com', 'https://amazonaws.com/', true],
    ['.amazonaws.com', 'https://amazonaws.com/', false],
    ['.amazonaws.com', 'https://api.ecr.us-west-2.amazonaws.com/', true],
    ['*.amazonaws.com', 'https://amazonaws.com/', false],
    ['*.amazonaws.com', 'https://api.ecr.us-west-2.amazonaws.com/', true],
    ['zonaws.com', 'https://amazonaws.com/', false],
    [' github.com , cdn.teleport.dev ', 'https://cdn.teleport.dev/x', true],
    ['GitHub.COM', 'https://github.com/x', true],
    ['github.com:443', 'https://github.com/x', true],
    ['github.com:8443', 'https://github.com/x', false],
    ['10.0.0.0/8', 'https://10.1.2.3/v2/', true],
    ['10.0.0.0/8', 'https://11.1.2.3/v2/', false],
    ['10.1.2.3', 'https://10.1.2.3:5000/v2/', true],
    ['10.1.2.3:443', 'https://10.1.2.3:5000/v2/', false],
    ['fd00::/8', 'https://[fd00::5]/v2/', true],
  ];
  for (const [noProxy, url, direct] of cases) {
    test(`NO_PROXY=${JSON.stringify(noProxy)}: ${url} ${direct ? 'direct' : 'through the proxy'}`, () => {
      assert.equal(via(env(noProxy), url), direct ? undefined : 'proxy:3128');
    });
  }

  test('no_proxy is read when NO_PROXY is unset or empty', () => {
    assert.equal(
      via({ HTTPS_PROXY: 'proxy:3128', no_proxy: 'example.com' }, 'https://a.example.com'),
      undefined,
    );
    assert.equal(
      via(
        { HTTPS_PROXY: 'proxy:3128', NO_PROXY: 'other.com', no_proxy: 'example.com' },
        'https://a.example.com',
      ),
      'proxy:3128',
    );
  });
});
