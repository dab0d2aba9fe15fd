import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ECRServiceException, RepositoryNotFoundException } from '@aws-sdk/client-ecr';
import { STSServiceException } from '@aws-sdk/client-sts';
import { classifyAwsError } from '../../src/aws.ts';
import { HttpStatusError } from '../../src/http.ts';

const meta = (httpStatusCode: number) => ({ $metadata: { httpStatusCode } });

test('throttling, 5xx and 429 answers are retried', () => {
  const throttled = new ECRServiceException({
    name: 'ThrottlingException',
    $fault: 'client',
    message: 'Rate exceeded',
    ...meta(400),
  });
  assert.equal(classifyAwsError(throttled), 'retry');
  const internal = new STSServiceException({
    name: 'InternalFailure',
    $fault: 'server',
    message: 'x',
    ...meta(500),
  });
  assert.equal(classifyAwsError(internal), 'retry');
  const unavailable = new ECRServiceException({
    name: 'ServerException',
    $fault: 'server',
    message: 'x',
    ...meta(503),
  });
  assert.equal(classifyAwsError(unavailable), 'retry');
  const tooMany = new ECRServiceException({ name: 'Unknown', $fault: 'client', message: 'x', ...meta(429) });
  assert.equal(classifyAwsError(tooMany), 'retry');
});

test('a dropped connection is retried', () => {
  const reset = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
  assert.equal(classifyAwsError(reset), 'retry');
  assert.equal(classifyAwsError(new TypeError('fetch failed', { cause: reset })), 'retry');
});

test('what the caller must fix is not retried', () => {
  const missing = new RepositoryNotFoundException({
    message: 'no such repository',
    $metadata: { httpStatusCode: 400 },
  });
  assert.equal(classifyAwsError(missing), 'fail');
  const denied = new ECRServiceException({
    name: 'AccessDeniedException',
    $fault: 'client',
    message: 'x',
    ...meta(403),
  });
  assert.equal(classifyAwsError(denied), 'fail');
  assert.equal(classifyAwsError(new Error('bug')), 'fail');
  assert.equal(classifyAwsError('a string'), 'fail');
});

test("a proxy's answer to CONNECT is judged as on the action's other paths: 503 retried, 403 and 407 not", () => {
  const proxy = (status: number) =>
    new HttpStatusError(
      'CONNECT',
      'sts.us-west-2.amazonaws.com:443 through proxy http://proxy:3128',
      status,
      '',
    );
  assert.equal(classifyAwsError(proxy(503)), 'retry');
  assert.equal(classifyAwsError(proxy(403)), 'fail');
  assert.equal(classifyAwsError(proxy(407)), 'fail');
});
