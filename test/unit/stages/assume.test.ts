import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  ExpiredTokenException,
  IDPCommunicationErrorException,
  IDPRejectedClaimException,
  InvalidIdentityTokenException,
  MalformedPolicyDocumentException,
  RegionDisabledException,
  STSServiceException,
} from '@aws-sdk/client-sts';
import { fatalHint, roleSessionName, stsClassifier } from '../../../src/stages/assume.ts';

const $metadata = { httpStatusCode: 400 };
const accessDenied = () =>
  new STSServiceException({
    name: 'AccessDenied',
    $fault: 'client',
    message: 'Not authorized',
    $metadata: { httpStatusCode: 403 },
  });
const subject = {
  role: 'arn:aws:iam::123456789012:role/push',
  token: 'join-me',
  identity: 'image-push',
  region: 'us-west-2',
};

test('the role session name is service and run id in STS charset, 2–64 characters', () => {
  assert.equal(roleSessionName('db-migrator', '123456789'), 'bake-db-migrator-123456789');
  const long = roleSessionName('a'.repeat(64), '98765432101');
  assert.equal(long.length, 64);
  assert.ok(long.endsWith('-98765432101'), 'the run id is kept whole');
  const odd = roleSessionName('svc', 'run id/7:x');
  assert.match(odd, /^[\w+=,.@-]{2,64}$/);
  assert.equal(odd, 'bake-svc-run-id-7-x');
  assert.match(roleSessionName('s', ''), /^[\w+=,.@-]{2,64}$/);
  // A service cut at a hyphen does not leave a double hyphen.
  assert.doesNotMatch(roleSessionName(`${'ab-'.repeat(21)}c`, '1'.repeat(32)), /--/);
});

test('IDPCommunicationError is retried; InvalidIdentityToken a few times only', () => {
  const classify = stsClassifier();
  assert.equal(classify(new IDPCommunicationErrorException({ message: 'jwks', $metadata })), 'retry');
  assert.equal(classify(new IDPCommunicationErrorException({ message: 'jwks', $metadata })), 'retry');
  const invalid = () => new InvalidIdentityTokenException({ message: 'no key', $metadata });
  assert.equal(classify(invalid()), 'retry');
  assert.equal(classify(invalid()), 'retry');
  assert.equal(classify(invalid()), 'fail');
  assert.equal(stsClassifier()(invalid()), 'retry', 'each sequence counts afresh');
});

test('throttling, 5xx and network errors are retried through the AWS classifier', () => {
  const classify = stsClassifier();
  assert.equal(
    classify(
      new STSServiceException({ name: 'Throttling', $fault: 'client', message: 'Rate exceeded', $metadata }),
    ),
    'retry',
  );
  assert.equal(
    classify(
      new STSServiceException({
        name: 'InternalFailure',
        $fault: 'server',
        message: 'x',
        $metadata: { httpStatusCode: 503 },
      }),
    ),
    'retry',
  );
  assert.equal(classify(Object.assign(new Error('reset'), { code: 'ECONNRESET' })), 'retry');
});

test('errors STS repeats fail at once, each with what to check', () => {
  const classify = stsClassifier();
  const fatal = [
    accessDenied(),
    new ExpiredTokenException({ message: 'expired', $metadata }),
    new IDPRejectedClaimException({ message: 'rejected', $metadata }),
    new MalformedPolicyDocumentException({ message: 'bad', $metadata }),
    new RegionDisabledException({ message: 'off', $metadata }),
  ];
  for (const error of fatal) {
    assert.equal(classify(error), 'fail', error.name);
    assert.ok(fatalHint(error, subject), `${error.name} has a hint`);
  }
  const denied = fatalHint(accessDenied(), subject) ?? '';
  assert.match(denied, /trust policy of arn:aws:iam::123456789012:role\/push/);
  assert.match(denied, /sts\.amazonaws\.com/);
  assert.match(denied, /join token 'join-me'/);
  assert.match(
    fatalHint(new IDPRejectedClaimException({ message: 'x', $metadata }), subject) ?? '',
    /audience/,
  );
  assert.match(
    fatalHint(new RegionDisabledException({ message: 'x', $metadata }), subject) ?? '',
    /us-west-2/,
  );
  assert.equal(
    fatalHint(new IDPCommunicationErrorException({ message: 'x', $metadata }), subject),
    undefined,
  );
});
