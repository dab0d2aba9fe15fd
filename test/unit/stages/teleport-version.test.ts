import assert from 'node:assert/strict';
import { test } from 'node:test';
import { classifyHttp, HttpStatusError } from '../../../src/http.ts';
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

test('5xx, 429 and network failures are retried; other answers are not', () => {
  assert.equal(classifyHttp(new HttpStatusError('GET', 'https://t/webapi/find', 502, '')), 'retry');
  assert.equal(classifyHttp(new HttpStatusError('GET', 'https://t/webapi/find', 429, '')), 'retry');
  assert.equal(classifyHttp(new HttpStatusError('GET', 'https://t/webapi/find', 404, 'not found')), 'fail');
  assert.equal(
    classifyHttp(
      new Error('GET https://t failed', { cause: Object.assign(new Error('x'), { code: 'ECONNREFUSED' }) }),
    ),
    'retry',
  );
  assert.equal(classifyHttp(new Error('other')), 'fail');
  assert.equal(
    new HttpStatusError('GET', 'https://t/webapi/find', 503, 'down').message,
    'GET https://t/webapi/find answered HTTP 503: down',
  );
});
