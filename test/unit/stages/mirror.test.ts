import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { mirror } from '../../../src/stages/mirror.ts';
import { fakeContext } from '../../support/context.ts';

describe('when the mirror runs', () => {
  test('only with a secondary region, and never in a dry run', async () => {
    const secondary = {
      'aws-region-secondary': 'eu-central-1',
      'ecr-registry-secondary': '515260921971.dkr.ecr.eu-central-1.amazonaws.com',
    };
    const without = await fakeContext({ inputs: { 'dry-run': 'false' } });
    const dryRun = await fakeContext({ inputs: { 'dry-run': 'true', ...secondary } });
    const mirrored = await fakeContext({ inputs: { 'dry-run': 'false', ...secondary } });
    assert.equal(mirror.skip?.(without), 'aws-region-secondary is empty: no mirror');
    assert.equal(mirror.skip?.(dryRun), 'dry run');
    assert.equal(mirror.skip?.(mirrored), undefined);
  });

  test('after the artifact and its signature are verified, so a broken artifact is never mirrored', () => {
    assert.ok(mirror.needs.includes('push'));
    assert.ok(mirror.needs.includes('verify-artifact'));
    assert.ok(mirror.after?.includes('verify-signature'));
  });
});
