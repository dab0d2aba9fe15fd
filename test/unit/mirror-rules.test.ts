import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { signatureTag } from '../../src/cosign.ts';
import { ActionError } from '../../src/errors.ts';
import {
  checkReference,
  judgeArtifact,
  judgeSignature,
  type MirrorPlace,
  waitUntilStored,
} from '../../src/mirror-rules.ts';
import { sha } from '../support/digest.ts';
import { RecordingLog } from '../support/log.ts';
import { counted } from '../support/stubs.ts';

const BAKED = `sha256:${'b'.repeat(64)}`;
const OTHER = `sha256:${'0'.repeat(64)}`;
const PLACE: MirrorPlace = {
  primary: {
    host: '515260921971.dkr.ecr.us-west-2.amazonaws.com',
    region: 'us-west-2',
    account: '515260921971',
  },
  secondary: {
    host: '515260921971.dkr.ecr.eu-central-1.amazonaws.com',
    region: 'eu-central-1',
    account: '515260921971',
  },
  repository: 'svc-manifests',
  tag: '1.2.3',
};
const SIG_TAG = signatureTag(BAKED);

/** Asserts an ActionError whose message and hint match. */
const refused = (message: RegExp, hint?: string | RegExp) => (error: unknown) => {
  assert.ok(error instanceof ActionError, String(error));
  assert.match(error.message, message);
  if (typeof hint === 'string') assert.ok(error.hint?.includes(hint), error.hint);
  else if (hint) assert.match(error.hint ?? '', hint);
  return true;
};

describe('the reference digest', () => {
  test('is what the primary stores under the tag, and must be the digest this run baked', () => {
    assert.equal(checkReference(BAKED, BAKED, PLACE), BAKED);
    assert.throws(
      () => checkReference(BAKED, OTHER, PLACE),
      refused(
        /^svc-manifests:1\.2\.3 in us-west-2 stores sha256:0{64}, not sha256:b{64} that this run baked and verified; nothing mirrored$/,
        /re-run the job/,
      ),
    );
    assert.throws(() => checkReference(BAKED, undefined, PLACE), refused(/in us-west-2 stores nothing, not/));
  });
});

describe('the version tag in the secondary region', () => {
  test('absent: copy; the same digest: already mirrored', () => {
    assert.equal(judgeArtifact(BAKED, undefined, PLACE), 'copy');
    assert.equal(judgeArtifact(BAKED, BAKED, PLACE), 'mirrored');
  });

  test('another digest: refused with the command that deletes the tag there, never overwritten', () => {
    assert.throws(
      () => judgeArtifact(BAKED, OTHER, PLACE),
      refused(
        /^515260921971\.dkr\.ecr\.eu-central-1\.amazonaws\.com\/svc-manifests:1\.2\.3 \(eu-central-1\) already holds sha256:0{64}, not sha256:b{64}; nothing overwritten$/,
        'aws ecr batch-delete-image --region eu-central-1 --registry-id 515260921971 --repository-name svc-manifests --image-ids imageTag=1.2.3',
      ),
    );
  });
});

describe('the signature tag in the secondary region', () => {
  const primary = { digest: sha('p'), layers: ['l1 s1', 'l1 s2'] };

  test('follows the primary: none there means nothing to mirror; absent is copied; the same is left alone', () => {
    assert.equal(judgeSignature(undefined, undefined, true, PLACE, SIG_TAG), 'none');
    assert.equal(judgeSignature(undefined, { digest: sha('x') }, true, PLACE, SIG_TAG), 'none');
    assert.equal(judgeSignature({ digest: sha('p') }, undefined, false, PLACE, SIG_TAG), 'copy');
    assert.equal(
      judgeSignature({ digest: sha('p') }, { digest: sha('p') }, false, PLACE, SIG_TAG),
      'mirrored',
    );
  });

  test('an older one whose signatures the primary all holds is replaced', () => {
    const older = { digest: sha('s'), layers: ['l1 s1'] };
    assert.equal(judgeSignature(primary, older, true, PLACE, SIG_TAG), 'replace');
  });

  test('one holding a signature the primary lacks is refused, naming the tag to delete', () => {
    const foreign = { digest: sha('s'), layers: ['l1 s1', 'l1 s3'] };
    assert.throws(
      () => judgeSignature(primary, foreign, true, PLACE, SIG_TAG),
      refused(
        new RegExp(
          `:${SIG_TAG.replace('.', '\\.')} \\(eu-central-1\\) holds 1 signature\\(s\\) the primary's`,
        ),
        `aws ecr batch-delete-image --region eu-central-1 --registry-id 515260921971 --repository-name svc-manifests --image-ids imageTag=${SIG_TAG}`,
      ),
    );
  });

  test('an older one in a repository whose signature tags cannot change is refused with the fix', () => {
    assert.throws(
      () => judgeSignature(primary, { digest: sha('s'), layers: [] }, false, PLACE, SIG_TAG),
      refused(/does not let signature tags change/, /put-image-tag-mutability --region eu-central-1/),
    );
  });
});

describe('waiting for ECR to show a write', () => {
  const instant = { sleep: async () => {}, random: () => 1 };

  test('looks again while nothing is shown, saying so each time, and returns what is then stored', async () => {
    const answers = [undefined, undefined, BAKED];
    const log = new RecordingLog();
    const found = await waitUntilStored(
      async () => answers.shift(),
      'svc@digest in eu-central-1',
      log,
      instant,
    );
    assert.equal(found, BAKED);
    assert.deepEqual(
      log.of('info').map((l) => l.message),
      [
        'waiting for ECR to show svc@digest in eu-central-1: look 1 found nothing; next look in 1000 ms',
        'waiting for ECR to show svc@digest in eu-central-1: look 2 found nothing; next look in 2000 ms',
      ],
    );
  });

  test('is bounded: gives up with what to do', async () => {
    const look = counted(async () => undefined);
    await assert.rejects(
      waitUntilStored(look, 'x', new RecordingLog(), { ...instant, attempts: 3 }),
      refused(/^ECR still does not show x$/, /re-run the job/),
    );
    assert.equal(look.calls, 3);
  });

  test('a failing look ends the wait at once', async () => {
    const denied = new ActionError('ECR eu-central-1 did not say what it stores');
    const look = counted(async () => {
      throw denied;
    });
    await assert.rejects(
      waitUntilStored(look, 'x', new RecordingLog(), instant),
      (error) => error === denied,
    );
    assert.equal(look.calls, 1);
  });
});
