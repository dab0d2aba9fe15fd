import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ActionError, describeError, show } from '../../src/errors.ts';
import { StageFailure } from '../../src/pipeline.ts';

test('describeError: the messages down the chain, then every hint along it, outer first', () => {
  const refusal = new ActionError(
    'CONNECT sts.example:443 through proxy http://proxy:3128 answered HTTP 407',
    {
      hint: 'the proxy wants credentials',
    },
  );
  const transport = new Error('POST https://sts.example/ failed', { cause: refusal });
  const stage = new ActionError('cannot reach STS', { hint: 'check the network', cause: transport });
  assert.equal(
    describeError(stage),
    'cannot reach STS: POST https://sts.example/ failed: CONNECT sts.example:443 through proxy http://proxy:3128 answered HTTP 407 — check the network; the proxy wants credentials',
  );
  // A StageFailure quotes its cause whole: its hints are not said twice.
  assert.equal(describeError(new StageFailure('assume', stage)), `assume: ${describeError(stage)}`);
  assert.equal(describeError(new Error('plain')), 'plain');
  assert.equal(describeError('a string'), 'a string');
});

test('show quotes a value and makes control and look-alike characters visible', () => {
  assert.equal(show('svc'), '"svc"');
  assert.equal(show('sv\u0441'), '"sv\\u0441"');
  assert.equal(show('a\nb'), '"a\\nb"');
  assert.match(show('x'.repeat(100)), /x{80}\\u2026\(100 chars\)"$/, 'clipped, the ellipsis escaped too');
});
