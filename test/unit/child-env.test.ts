import assert from 'node:assert/strict';
import { test } from 'node:test';
import { toolEnv } from '../../src/child-env.ts';

test('child tools get DOCKER_CONFIG and the TLS trust, but no AWS credentials, action inputs or OIDC request', () => {
  const saved = { ...process.env };
  try {
    Object.assign(process.env, {
      AWS_ACCESS_KEY_ID: 'AKIA',
      AWS_SECRET_ACCESS_KEY: 'secret',
      AWS_SESSION_TOKEN: 'session',
      'INPUT_GITHUB-TOKEN': 'ghs_x',
      SSL_CERT_FILE: '/ca.pem',
      ACTIONS_ID_TOKEN_REQUEST_URL: 'https://oidc',
    });
    const env = toolEnv('/private/docker');
    assert.equal(env['DOCKER_CONFIG'], '/private/docker');
    assert.equal(env['SSL_CERT_FILE'], '/ca.pem');
    assert.equal(
      env['ACTIONS_ID_TOKEN_REQUEST_URL'],
      undefined,
      'only tbot and the action ask for OIDC tokens',
    );
    for (const name of [
      'AWS_ACCESS_KEY_ID',
      'AWS_SECRET_ACCESS_KEY',
      'AWS_SESSION_TOKEN',
      'INPUT_GITHUB-TOKEN',
    ])
      assert.equal(env[name], undefined, name);
  } finally {
    for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
    Object.assign(process.env, saved);
  }
});
