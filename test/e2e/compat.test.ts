// What the platform's servers expect (issue 16, items 5, 7 and 9): a Teleport cluster new enough for the
// workload-identity-jwt service, digest references spelled as real clients spell them, and the signer identity
// of a GitHub Enterprise Server run.
import assert from 'node:assert/strict';
import { cp, mkdtemp, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { useBakeWorld, why } from '../harness/bake-world.ts';
import { escapeRegExp } from '../support/regexp.ts';
import { sigTag } from '../support/signing.ts';
import { STANDIN_VERSIONS, TARGETS } from '../world/index.ts';
import { NEEDS_STANDINS } from '../world/real-tools.ts';
import { digestRefTarget } from '../world/registry-front.ts';
import { readCalls } from '../world/standins/control.ts';

describe("the platform's servers", () => {
  const fx = useBakeWorld(['old-cluster', 'digest-refs', 'digest-refs-unsigned']);

  test('a cluster below Teleport 17.2.7 fails before anything is downloaded, naming its version and the floor', async () => {
    const { world } = fx;
    // Any request for a tbot release (or its checksum) would hit this.
    const tbotDownloads = world.faults.inject({
      target: TARGETS.mirror,
      urlIncludes: 'cdn.teleport.dev',
      fault: '5xx',
      count: Number.POSITIVE_INFINITY,
    });
    const toolCache = await mkdtemp(join(fx.scratch, 'cache-'));
    world.teleport.setVersions({ serverVersion: '17.2.6', toolsVersion: null });
    let result: Awaited<ReturnType<typeof fx.bake>>;
    try {
      result = await fx.bake('old-cluster', {}, { toolCache });
    } finally {
      world.teleport.setVersions({
        serverVersion: STANDIN_VERSIONS.teleport,
        toolsVersion: STANDIN_VERSIONS.teleport,
      });
    }
    assert.equal(result.code, 1, why(result));
    assert.equal(
      result.failure,
      `teleport-version: the Teleport cluster at ${world.teleportFqdn} runs 17.2.6; the workload-identity-jwt service this action uses needs 17.2.7 or later — upgrade the cluster to Teleport 17.2.7 or later (older clusters issue these JWTs only behind an experiment flag); nothing was downloaded`,
    );
    assert.equal(tbotDownloads.hits, 0, 'no tbot download was tried');
    // flux and cosign wait for teleport-version too: nothing at all was asked of the mirror.
    assert.equal(world.counters.get(TARGETS.mirror), 0, 'no download at all');
    assert.deepEqual(await readdir(toolCache), [], 'nothing in the tool cache');
    assert.equal(readCalls(world.controlDir, 'tbot').length, 0);
    assert.equal(world.counters.get(TARGETS.sts), 0);
  });

  test('manifests by digest go out as sha256:<hex> with a literal colon, never %3A', {
    skip: NEEDS_STANDINS,
  }, async () => {
    const { world } = fx;
    const forms = digestRefTarget(world.region);
    // With signing off, the only requests by digest are the action's own pull-back (flux pushes by tag): the
    // count is the action's client alone.
    const unsigned = await fx.bake('digest-refs-unsigned', { sign: 'false' });
    assert.equal(unsigned.code, 0, why(unsigned));
    assert.deepEqual(
      readCalls(world.controlDir)
        .filter((c) => c.tool !== 'tbot')
        .map((c) => `${c.tool} ${c.command}`),
      ['flux push artifact'],
    );
    assert.ok(world.counters.get(forms, 'colon') > 0, "the action's pull-back asked by digest");
    assert.equal(world.counters.get(forms, '%3A'), 0);

    // A whole bake: push, sign, verify and the pull-back by digest.
    world.counters.reset();
    const signed = await fx.bake('digest-refs');
    assert.equal(signed.code, 0, why(signed));
    assert.match(signed.summary, /signature<\/td><td>signed now</);
    assert.ok(world.counters.get(forms, 'colon') > 0);
    assert.equal(world.counters.get(forms, '%3A'), 0, 'no request spelled the digest %3A');
  });
});

describe('a GitHub Enterprise Server run', () => {
  const ISSUER = 'https://ghes.example/_services/token';
  const SERVER = 'https://ghes.example';
  const fx = useBakeWorld(['ghes-signed', 'ghes-wrong-issuer'], { githubIssuer: ISSUER });
  const ref = () => String(fx.world.oidc.claims()['job_workflow_ref']);

  /** A bake as GHES runs it: GITHUB_SERVER_URL is the server, and the workspace already holds the tree. */
  async function bakeOnGhes(service: string, inputs: Record<string, string> = {}) {
    const workspace = await mkdtemp(join(fx.scratch, 'ghes-workspace-'));
    await cp(fx.repo.workTree, workspace, { recursive: true });
    return fx.bake(
      service,
      { checkout: 'false', tag: '1.2.3', ...inputs },
      {
        env: { GITHUB_SERVER_URL: SERVER, GITHUB_WORKSPACE: workspace },
      },
    );
  }

  test('signs as <GITHUB_SERVER_URL>/<job_workflow_ref> for its own issuer, and verifies', {
    skip: NEEDS_STANDINS,
  }, async () => {
    const result = await bakeOnGhes('ghes-signed', { 'certificate-oidc-issuer': ISSUER });
    assert.equal(result.code, 0, why(result));
    const identity = `${SERVER}/${ref()}`;
    assert.match(
      result.summary,
      new RegExp(`signer identity</td><td><code>${escapeRegExp(identity)}</code>`),
    );
    assert.match(result.summary, new RegExp(`signer issuer</td><td><code>${escapeRegExp(ISSUER)}</code>`));
    assert.match(
      result.summary,
      new RegExp(`signature verified</td><td>✔ for <code>${escapeRegExp(identity)}</code>`),
    );
    assert.doesNotMatch(result.summary, /https:\/\/github\.com\//);
    const verify = readCalls(fx.world.controlDir, 'cosign').filter((c) => c.command === 'verify');
    assert.ok(verify.length > 0);
    for (const call of verify) {
      assert.deepEqual(
        [
          call.argv[call.argv.indexOf('--certificate-identity') + 1],
          call.argv[call.argv.indexOf('--certificate-oidc-issuer') + 1],
        ],
        [identity, ISSUER],
      );
    }
  });

  test("with github.com's issuer expected, the run fails before signing, naming both issuers", {
    skip: NEEDS_STANDINS,
  }, async () => {
    const result = await bakeOnGhes('ghes-wrong-issuer');
    assert.equal(result.code, 1, why(result));
    assert.equal(
      result.failure,
      `sign: certificate-oidc-issuer expects https://token.actions.githubusercontent.com, but this run's OIDC token is issued by ${ISSUER}, and the artifact has no signature by it — set \`certificate-oidc-issuer\` to ${ISSUER}, or sign from a run of that issuer`,
    );
    assert.equal(readCalls(fx.world.controlDir, 'cosign').filter((c) => c.command === 'sign').length, 0);
    const digest = result.outputs['digest'] ?? '';
    assert.equal(
      await fx.world.tagDigest(fx.world.region, 'ghes-wrong-issuer-manifests', sigTag(digest)),
      undefined,
    );
  });
});
