import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { assetFor, checksumFor, PINNED_SHA256, toolArch, viaMirror } from '../../../src/tools/assets.ts';

describe('the download table', () => {
  test('maps node architectures to release names and refuses others', () => {
    assert.equal(toolArch('x64'), 'amd64');
    assert.equal(toolArch('arm64'), 'arm64');
    assert.throws(() => toolArch('ia32'), /no release of the tools for CPU architecture ia32/);
    assert.throws(() => toolArch('x64', 'darwin'), /Linux releases; this runner is darwin/);
  });

  test('names the contract assets and their checksum files', () => {
    const cases: { asked: Parameters<typeof assetFor>; url: string; checksum: string; member?: string }[] = [
      {
        asked: ['flux', '2.8.6', 'arm64'],
        url: 'https://github.com/fluxcd/flux2/releases/download/v2.8.6/flux_2.8.6_linux_arm64.tar.gz',
        checksum: 'https://github.com/fluxcd/flux2/releases/download/v2.8.6/flux_2.8.6_checksums.txt',
        member: 'flux',
      },
      {
        asked: ['cosign', '3.0.0', 'amd64'],
        url: 'https://github.com/sigstore/cosign/releases/download/v3.0.0/cosign-linux-amd64',
        checksum: 'https://github.com/sigstore/cosign/releases/download/v3.0.0/cosign_checksums.txt',
      },
      {
        asked: ['tbot', '17.4.8', 'amd64'],
        url: 'https://cdn.teleport.dev/teleport-v17.4.8-linux-amd64-bin.tar.gz',
        checksum: 'https://cdn.teleport.dev/teleport-v17.4.8-linux-amd64-bin.tar.gz.sha256',
        member: 'teleport/tbot',
      },
    ];
    for (const { asked, url, checksum, member } of cases) {
      const asset = assetFor(...asked);
      assert.equal(asset.url, url, asked[0]);
      assert.deepEqual(asset.checksum, { url: checksum }, asked[0]);
      assert.equal(asset.member, member, asked[0]);
    }
  });

  test('a pinned version is checked against the pin only', () => {
    assert.deepEqual(assetFor('cosign', '2.6.1', 'amd64').checksum, {
      sha256: '064954c5d8c7e3b28188eee5b1727b31c411550bc5fefd41aa672d3c761d103a',
    });
    for (const value of Object.values(PINNED_SHA256)) assert.match(value, /^[0-9a-f]{64}$/);
  });

  test('the mirror prefixes host and path', () => {
    const url = 'https://github.com/fluxcd/flux2/releases/download/v2.9.4/flux_2.9.4_checksums.txt';
    assert.equal(viaMirror(url, undefined), url);
    assert.equal(
      viaMirror(url, 'https://mirror.example/tools/'),
      'https://mirror.example/tools/github.com/fluxcd/flux2/releases/download/v2.9.4/flux_2.9.4_checksums.txt',
    );
  });

  test('checksum files: sha256sum lines, binary-mode stars, paths, and a lone hash', () => {
    const a = 'a'.repeat(64);
    const b = 'B'.repeat(64);
    const text = `${a}  flux_2.9.4_linux_amd64.tar.gz\n${b} *flux_2.9.4_linux_arm64.tar.gz\n`;
    assert.equal(checksumFor(text, 'flux_2.9.4_linux_amd64.tar.gz'), a);
    assert.equal(checksumFor(text, 'flux_2.9.4_linux_arm64.tar.gz'), 'b'.repeat(64));
    assert.equal(checksumFor(text, 'flux_2.9.4_darwin_amd64.tar.gz'), undefined);
    assert.equal(checksumFor(`${a}  ./dist/cosign-linux-amd64\n`, 'cosign-linux-amd64'), a);
    assert.equal(checksumFor(`${a}\n`, 'teleport-v17.4.8-linux-amd64-bin.tar.gz'), a);
    assert.equal(checksumFor(`${a}  cosign-linux-amd64-extra\n`, 'cosign-linux-amd64'), undefined);
    assert.equal(checksumFor('not a checksum\n', 'x'), undefined);
  });
});
