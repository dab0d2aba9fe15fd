import assert from 'node:assert/strict';
import { test } from 'node:test';
import { versionFromFind } from '../../../src/stages/teleport-version.ts';

test('tools_version wins over server_version, which is the fallback', () => {
  assert.equal(
    versionFromFind({ server_version: '17.4.8', auto_update: { tools_version: '17.4.2' } }),
    '17.4.2',
  );
  assert.equal(versionFromFind({ server_version: '17.4.8', auto_update: {} }), '17.4.8');
  assert.equal(versionFromFind({ server_version: '17.4.8', auto_update: { tools_version: '' } }), '17.4.8');
  assert.equal(versionFromFind({ server_version: '17.4.8' }), '17.4.8');
  assert.equal(versionFromFind({ server_version: 'v16.4.3' }), '16.4.3');
  assert.equal(versionFromFind({}), undefined);
  assert.equal(versionFromFind({ server_version: 17 }), undefined);
  assert.equal(versionFromFind('nope'), undefined);
});
