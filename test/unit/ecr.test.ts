import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  type ECRClient,
  ImageNotFoundException,
  type Repository,
  RepositoryNotFoundException,
  ServerException,
} from '@aws-sdk/client-ecr';
import {
  Ecr,
  type EcrRegistry,
  fixCommand,
  judgeRepository,
  parseAuthorizationToken,
  tagMutable,
} from '../../src/ecr.ts';
import { RecordingLog } from '../support/log.ts';

const repo = (mutability: string, filters: string[] = []): Repository => ({
  repositoryName: 'svc-manifests',
  imageTagMutability: mutability as Repository['imageTagMutability'],
  ...(filters.length
    ? { imageTagMutabilityExclusionFilters: filters.map((filter) => ({ filterType: 'WILDCARD', filter })) }
    : {}),
});

const REGISTRY: EcrRegistry = { host: '127.0.0.1:5443', region: 'us-west-2', account: undefined };
const EU: EcrRegistry = { host: '127.0.0.1:5443', region: 'eu-central-1', account: undefined };

describe('tagMutable', () => {
  const sig = `sha256-${'a'.repeat(64)}.sig`;
  test('follows ECR: exclusions flip the repository rule for the tags they match', () => {
    assert.equal(tagMutable(repo('MUTABLE'), '1.2.3'), true);
    assert.equal(tagMutable(repo('IMMUTABLE'), '1.2.3'), false);
    assert.equal(tagMutable(repo('IMMUTABLE'), sig), false);
    assert.equal(tagMutable(repo('IMMUTABLE_WITH_EXCLUSION', ['sha256-*']), '1.2.3'), false);
    assert.equal(tagMutable(repo('IMMUTABLE_WITH_EXCLUSION', ['sha256-*']), sig), true);
    assert.equal(tagMutable(repo('IMMUTABLE_WITH_EXCLUSION', ['*']), '1.2.3'), true);
    assert.equal(tagMutable(repo('MUTABLE_WITH_EXCLUSION', ['1.*']), '1.2.3'), false);
    assert.equal(tagMutable(repo('MUTABLE_WITH_EXCLUSION', ['1.*']), '2.0.0'), true);
  });
});

describe('judgeRepository', () => {
  test('the repository the action creates is accepted silently, signatures writable', () => {
    const log = new RecordingLog();
    const judged = judgeRepository(repo('IMMUTABLE_WITH_EXCLUSION', ['sha256-*']), '1.2.3', REGISTRY, log);
    assert.deepEqual(judged, { mutability: 'IMMUTABLE_WITH_EXCLUSION', signaturesWritable: true });
    assert.deepEqual(log.of('notice'), []);
  });

  test('plain IMMUTABLE is accepted with a notice that a later signature may fail', () => {
    const log = new RecordingLog();
    const judged = judgeRepository(repo('IMMUTABLE'), '1.2.3', REGISTRY, log);
    assert.equal(judged.signaturesWritable, false);
    assert.match(
      log.of('notice')[0]?.message ?? '',
      /later cosign signature of it may fail.*put-image-tag-mutability/,
    );
  });

  test('MUTABLE (or an exclusion that frees the version tag) is refused with the fixing command', () => {
    for (const r of [
      repo('MUTABLE'),
      repo('IMMUTABLE_WITH_EXCLUSION', ['1.2.*']),
      repo('MUTABLE_WITH_EXCLUSION', ['x']),
    ]) {
      assert.throws(
        () => judgeRepository(r, '1.2.3', EU, new RecordingLog()),
        (error: Error & { hint?: string }) => {
          assert.match(
            error.message,
            /repository svc-manifests is \S+: its tag 1\.2\.3 could be overwritten/,
          );
          assert.ok(error.hint?.includes(fixCommand(EU, 'svc-manifests')));
          return true;
        },
      );
    }
    assert.equal(
      fixCommand(REGISTRY, 'svc-manifests'),
      'aws ecr put-image-tag-mutability --region us-west-2 --repository-name svc-manifests --image-tag-mutability IMMUTABLE_WITH_EXCLUSION --image-tag-mutability-exclusion-filters filterType=WILDCARD,filter=sha256-*',
    );
  });
});

describe('Ecr.image', () => {
  const client = (answer: () => unknown) => ({ send: async () => answer() }) as unknown as ECRClient;
  const signal = new AbortController().signal;
  const checkImage = (c: ECRClient, repository: string, tag: string, s: AbortSignal, log: RecordingLog) =>
    new Ecr(c, REGISTRY, s, log).image(repository, tag);
  const meta = { $metadata: {} };

  test('an image found gives its digest', async () => {
    const found = await checkImage(
      client(() => ({ imageDetails: [{ imageDigest: `sha256:${'1'.repeat(64)}` }] })),
      'app',
      '1.2.3',
      signal,
      new RecordingLog(),
    );
    assert.deepEqual(found, { image: 'app', name: 'app:1.2.3', digest: `sha256:${'1'.repeat(64)}` });
  });

  test('a missing tag and a missing repository are answers, said apart', async () => {
    const noTag = client(() => {
      throw new ImageNotFoundException({ message: 'not found', ...meta });
    });
    const noRepo = client(() => {
      throw new RepositoryNotFoundException({ message: 'not found', ...meta });
    });
    const log = new RecordingLog();
    assert.deepEqual(await checkImage(noTag, 'app', '1.2.3', signal, log), {
      image: 'app',
      name: 'app:1.2.3',
      absent: 'no such tag',
    });
    assert.deepEqual(await checkImage(noRepo, 'app', '1.2.3', signal, log), {
      image: 'app',
      name: 'app:1.2.3',
      absent: 'no repository app',
    });
  });

  test('any other error fails the check with what to verify', async () => {
    const denied = client(() => {
      const error = new Error('User is not authorized to perform: ecr:DescribeImages');
      error.name = 'AccessDeniedException';
      throw error;
    });
    await assert.rejects(
      checkImage(denied, 'app', '1.2.3', signal, new RecordingLog()),
      (error: Error & { hint?: string }) => {
        assert.match(error.message, /DescribeImages failed for app:1\.2\.3/);
        assert.match(error.hint ?? '', /ecr:DescribeImages/);
        return true;
      },
    );
  });

  test('a server error is retried', async () => {
    let calls = 0;
    const flaky = client(() => {
      calls++;
      if (calls === 1) throw new ServerException({ message: 'boom', $metadata: { httpStatusCode: 500 } });
      return { imageDetails: [{ imageDigest: `sha256:${'2'.repeat(64)}` }] };
    });
    const log = new RecordingLog();
    const found = await checkImage(flaky, 'app', '1.2.3', signal, log);
    assert.equal(calls, 2);
    assert.ok('digest' in found);
    assert.match(log.of('info')[0]?.message ?? '', /DescribeImages app:1\.2\.3: attempt 1 failed/);
  });
});

describe('parseAuthorizationToken', () => {
  test('the ECR token splits into user and password at the first colon', () => {
    const token = Buffer.from('AWS:pass:with:colons').toString('base64');
    assert.deepEqual(parseAuthorizationToken(token), { user: 'AWS', password: 'pass:with:colons' });
    assert.throws(
      () => parseAuthorizationToken(Buffer.from('no-colon').toString('base64')),
      /not base64 user:password/,
    );
    assert.throws(
      () => parseAuthorizationToken(Buffer.from('AWS:').toString('base64')),
      /not base64 user:password/,
    );
  });
});
