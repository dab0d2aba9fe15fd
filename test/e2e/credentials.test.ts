// Credentials that never expire mid-run (issue 16, item 3). The world's STS credentials, tbot's JWTs and the
// registry tokens live a few seconds, far under the 5 minutes the action keeps in hand, so every AWS call mints
// again (tbot, then STS) and every registry use logs in again; a wait-for-images outlasts the first of each.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Agent } from 'node:https';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { DescribeRepositoriesCommand, ECRClient } from '@aws-sdk/client-ecr';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { useBakeWorld, why } from '../harness/bake-world.ts';
import { sigTag } from '../support/signing.ts';
import { TARGETS, type World } from '../world/index.ts';

// Long enough for one mint (tbot, then STS) or one tool run on a busy machine, far too short for a whole run.
const LIFETIMES = { stsCredentialSeconds: 8, svidSeconds: 8, registryTokenSeconds: 12 };

/** Seeds `image:1.2.3` once the run has looked for it twice and its first credentials and registry token expired. */
async function seedLate(world: World, image: string, running: () => boolean): Promise<void> {
  const ready = () => {
    const first = world.sts.credentials()[0];
    const token = world.ecr.tokens()[0];
    const expired = (at: Date | undefined) => at !== undefined && Date.now() > at.getTime() + 1000;
    return (
      expired(first?.expiration) &&
      expired(token?.expiresAt) &&
      world.counters.get(TARGETS.ecr, 'DescribeImages') >= 2
    );
  };
  while (running() && !ready()) await sleep(100);
  if (running()) await world.seedImage(world.region, image, '1.2.3');
}

/** DescribeRepositories signed with the given credentials, straight from this test to the world's ECR. */
async function describeWith(world: World, accessKeyId: string): Promise<unknown> {
  const keys = world.sts.keysOf(accessKeyId);
  assert.ok(keys, `STS issued ${accessKeyId}`);
  const handler = new NodeHttpHandler({ httpsAgent: new Agent({ ca: readFileSync(world.caFile) }) });
  const client = new ECRClient({
    region: world.region,
    endpoint: world.ecrEndpoint,
    requestHandler: handler,
    credentials: keys,
    maxAttempts: 1,
  });
  try {
    return await client.send(new DescribeRepositoriesCommand({}));
  } finally {
    client.destroy();
  }
}

describe('credentials that live seconds', () => {
  const fx = useBakeWorld(['long-wait'], LIFETIMES);

  test('a wait that outlasts them: tbot, STS and the registry login mint again, and nothing is refused as expired', async () => {
    const { world } = fx;
    let running = true;
    const seeding = seedLate(world, 'slow_image', () => running);
    const result = await fx
      .bake('long-wait', { images: 'slow_image', 'wait-for-images': '120' })
      .finally(() => {
        running = false;
      });
    await seeding;
    assert.equal(result.code, 0, why(result));
    assert.match(result.stdout, /waiting for slow_image:1\.2\.3/);
    assert.match(result.stdout, /the AWS credentials expire in -?\d+ s: minting new ones/);
    assert.match(result.stdout, /the registry login for \S+ is about to expire: logging in again/);

    // Minted again, each time through tbot first (its JWTs live seconds too).
    const credentials = world.sts.credentials();
    const [first] = credentials;
    assert.ok(first && credentials.length >= 3, `several STS credentials (${credentials.length})`);
    const joins = world.teleport.svids().filter((svid) => svid.via === 'join');
    assert.ok(joins.length >= 2, `tbot joined again (${joins.length})`);

    // Every ECR call was signed with credentials alive at that moment; after the first expired, with later ones.
    const calls = world.ecr.calls();
    assert.deepEqual(
      calls.filter((c) => c.error === 'ExpiredTokenException'),
      [],
    );
    const expiry = new Map(credentials.map((c) => [c.accessKeyId, c.expiration.getTime()]));
    for (const call of calls) {
      const until = expiry.get(call.accessKeyId ?? '');
      assert.ok(
        until !== undefined && call.time.getTime() < until,
        `${call.operation} signed with live keys`,
      );
    }
    const later = calls.filter((c) => c.time > first.expiration);
    assert.ok(later.length > 0, 'ECR was called after the first credentials expired');
    assert.ok(later.every((c) => c.accessKeyId !== first.accessKeyId));

    // The registry: logged in again, the push and the signature written after the first token had expired.
    const tokens = world.ecr.tokens();
    const [firstToken] = tokens;
    assert.ok(firstToken && tokens.length >= 2, `several registry tokens (${tokens.length})`);
    const registry = world.ecr.registryCalls();
    assert.deepEqual(
      registry.filter((c) => c.auth === 'expired'),
      [],
    );
    const puts = registry.filter((c) => c.kind === 'manifest-put' && c.time > firstToken.expiresAt);
    assert.ok(puts.length >= 2, 'the artifact and its signature were put with a later token');
    for (const put of puts) assert.deepEqual([put.auth, put.status], ['ok', 201]);
    const digest = result.outputs['digest'] ?? '';
    assert.equal(await world.tagDigest(world.region, 'long-wait-manifests', '1.2.3'), digest);
    assert.ok(await world.tagDigest(world.region, 'long-wait-manifests', sigTag(digest)));
    assert.match(result.summary, /signature<\/td><td>signed now</);

    // The world does refuse what expired, so a run that kept its first credentials would have failed.
    assert.ok(Date.now() > first.expiration.getTime());
    await assert.rejects(describeWith(world, first.accessKeyId), { name: 'ExpiredTokenException' });
  });
});
