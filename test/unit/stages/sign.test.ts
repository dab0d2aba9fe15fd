import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { readSigningToken } from '../../../src/signer.ts';
import { expectedIdentity, identityConflict } from '../../../src/stages/sign.ts';
import { GITHUB, ISSUER, inFiveMinutes, jwt, REF } from '../../support/signing.ts';

describe('signer identity', () => {
  test('certificate-identity wins over the token; without it the token decides', () => {
    const token = readSigningToken(
      jwt({ aud: 'sigstore', iss: ISSUER, exp: inFiveMinutes(), job_workflow_ref: REF }),
      GITHUB,
    );
    assert.equal(
      expectedIdentity('https://github.com/o/r/.github/workflows/x.yml@refs/heads/main', token),
      'https://github.com/o/r/.github/workflows/x.yml@refs/heads/main',
    );
    assert.equal(expectedIdentity(undefined, token), token.identity);
  });

  test('a certificate-identity this run cannot sign as is refused before signing, with GitHub as issuer', () => {
    const token = readSigningToken(
      jwt({ aud: 'sigstore', iss: ISSUER, exp: inFiveMinutes(), job_workflow_ref: REF }),
      GITHUB,
    );
    assert.equal(identityConflict(token.identity, ISSUER, token, 'x'), undefined);
    const wrong = 'https://github.com/maestra-io/other/.github/workflows/release.yml@refs/heads/main';
    const conflict = identityConflict(wrong, ISSUER, token, 'the artifact has no signature by it');
    assert.ok(conflict);
    assert.match(
      conflict.message,
      new RegExp(`expects ${wrong}, but this run would sign as ${token.identity.replace(/[.]/g, '\\.')}`),
    );
    assert.match(conflict.hint ?? '', /certificate-identity/);
    // The certificate's issuer is always the token's: expecting another can never verify.
    const issuer = identityConflict(token.identity, 'https://issuer.example', token, 'it is unsigned');
    assert.match(
      issuer?.message ?? '',
      /expects https:\/\/issuer\.example, but this run's OIDC token is issued by https:\/\/token\.actions/,
    );
    assert.match(issuer?.hint ?? '', /certificate-oidc-issuer/);
    // GitHub Enterprise Server: the identity is under its own URL, and is checked the same way.
    const ghes = readSigningToken(
      jwt({
        aud: 'sigstore',
        iss: 'https://ghe.example/_services/token',
        exp: inFiveMinutes(),
        job_workflow_ref: REF,
      }),
      'https://ghe.example',
    );
    assert.equal(ghes.identity, `https://ghe.example/${REF}`);
    assert.equal(
      identityConflict(ghes.identity, 'https://ghe.example/_services/token', ghes, 'x'),
      undefined,
    );
    assert.match(
      identityConflict(wrong, 'https://ghe.example/_services/token', ghes, 'x')?.message ?? '',
      /but this run would sign as https:\/\/ghe\.example\//,
    );
  });
});
