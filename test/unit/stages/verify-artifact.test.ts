import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { placeholderHits } from '../../../src/stages/verify-artifact.ts';
import { tree } from '../../support/tree.ts';

describe('placeholderHits', () => {
  test('names every file:line that still holds the placeholder', () => {
    const files = tree({
      'a.yaml': 'x\ny: ${APP_PACKAGE_VERSION_TO_BE_REPLACED}\n',
      'b.txt': '${APP_PACKAGE_VERSION_TO_BE_REPLACED}',
      'c.yaml': 'clean',
    });
    assert.deepEqual(placeholderHits(files), ['a.yaml:2', 'b.txt:1']);
  });
});
