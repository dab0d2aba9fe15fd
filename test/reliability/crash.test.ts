// Crash and re-run: main is held at a point of the pipeline (a remote or a tool that does not answer), then
// killed with its tools (SIGKILL to its process group, as a runner that dies); post runs, as the runner runs
// it after a killed main. What the killed run left on disk is private, post leaves nothing, and a re-run
// completes with what the registry holds: the same artifact content as an uninterrupted bake, a tag that was
// never rewritten, and exactly one signature.
import assert from 'node:assert/strict';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { World } from '../world/index.ts';
import { getManifest } from '../world/oci.ts';
import { addToolFault, clearCalls, clearToolFaults, readCalls } from '../world/standins/control.ts';
import { type Lab, signatures, since, startLab, why } from './lab.ts';
import { record } from './record.ts';

interface Point {
  service: string;
  /** Where main is when it dies. */
  point: string;
  /** Sets up the hold; returns what says main has reached it. */
  hold: (lab: Lab, service: string) => () => boolean;
  /** A fresh tool cache for the killed run (so it dies while downloading); the re-run reuses it. */
  freshTools?: boolean;
}

const REGISTRY = 'registry:us-west-2';

const remote =
  (target: string, kind: string, urlIncludes?: (service: string) => string) =>
  (lab: Lab, service: string) => {
    const fault = lab.world.faults.inject({
      target,
      kind,
      fault: 'hang',
      count: 1,
      ...(urlIncludes ? { urlIncludes: urlIncludes(service) } : {}),
    });
    return () => fault.hits > 0;
  };

const tool =
  (name: 'tbot' | 'flux' | 'cosign', command: 'start' | 'push' | 'sign' | 'verify', calls = 1) =>
  (lab: Lab) => {
    addToolFault(lab.world.controlDir, { tool: name, command, mode: 'hang' });
    // The call log names the subcommand path (`push artifact`, `start legacy`).
    return () =>
      readCalls(lab.world.controlDir, name).filter((c) => c.command.split(' ')[0] === command).length >=
      calls;
  };

const tagPath = (service: string) => `/v2/${service}-manifests/manifests/1.2.3`;

const POINTS: readonly Point[] = [
  {
    service: 'crash-find',
    point: 'teleport-version: /webapi/find in flight',
    hold: remote('teleport', 'find'),
  },
  {
    service: 'crash-download',
    point: 'install-*: tool downloads in flight',
    hold: remote('mirror', 'download'),
    freshTools: true,
  },
  { service: 'crash-tbot', point: 'teleport: tbot running', hold: tool('tbot', 'start') },
  {
    service: 'crash-sts',
    point: 'assume: STS call in flight',
    hold: remote('sts', 'AssumeRoleWithWebIdentity'),
  },
  {
    service: 'crash-login',
    point: 'login: GetAuthorizationToken in flight',
    hold: remote('ecr', 'GetAuthorizationToken'),
  },
  {
    service: 'crash-create',
    point: 'repository: CreateRepository in flight',
    hold: remote('ecr', 'CreateRepository'),
  },
  {
    service: 'crash-lookup',
    point: 'push: tag look-up in flight',
    hold: remote(REGISTRY, 'manifest-get', tagPath),
  },
  { service: 'crash-flux', point: 'push: flux push running', hold: tool('flux', 'push') },
  {
    service: 'crash-put',
    point: 'push: layers uploaded, manifest PUT in flight',
    hold: remote(REGISTRY, 'manifest-put', tagPath),
  },
  {
    service: 'crash-presign',
    point: 'push → sign: published, signature look-up in flight',
    hold: remote(REGISTRY, 'manifest-head', () => '.sig'),
  },
  { service: 'crash-cosign', point: 'sign: cosign sign running', hold: tool('cosign', 'sign') },
  {
    service: 'crash-sig-put',
    point: 'sign: signature PUT in flight',
    hold: remote(REGISTRY, 'manifest-put', () => '.sig'),
  },
  {
    service: 'crash-verify',
    point: 'verify-signature: signed, cosign verify running',
    hold: tool('cosign', 'verify'),
  },
];

/** The digest of the one layer a tag's artifact holds (the tarball of the baked files). */
async function layerDigest(world: World, repository: string, tag: string): Promise<string | undefined> {
  const manifest = await getManifest(world.registry(world.region), repository, tag);
  if (!manifest) return undefined;
  return (JSON.parse(manifest.body.toString('utf8')) as { layers: { digest: string }[] }).layers[0]?.digest;
}

/** Every directory of ours is 0700; every file that holds a secret is 0600. */
async function assertPrivate(root: string, secrets: readonly string[]): Promise<void> {
  assert.equal((await stat(root)).mode & 0o777, 0o700, root);
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        // A checked-out tree keeps git's own modes; it holds no secret, and the root above it is 0700.
        if (entry.name !== 'tree') await walk(path);
        continue;
      }
      const text = await readFile(path, 'latin1').catch(() => '');
      if (!secrets.some((secret) => secret.length >= 8 && text.includes(secret))) continue;
      assert.equal((await stat(path)).mode & 0o777, 0o600, `${path} holds a secret`);
      assert.equal((await stat(dir)).mode & 0o777, 0o700, `${dir} holds a secret file`);
    }
  };
  await walk(root);
}

const REFERENCE = 'crash-reference';
// The points share worlds three ways (holds at one remote would catch a neighbour's run), one at a time each.
const SHARDS = 3;
const shards: Point[][] = Array.from({ length: SHARDS }, (_, i) => POINTS.filter((_, j) => j % SHARDS === i));
const labs: Promise<Lab>[] = [];
let reference: Promise<string>;

before(() => {
  for (const [i, shard] of shards.entries()) {
    labs.push(startLab([...shard.map((p) => p.service), ...(i === 0 ? [REFERENCE] : [])]));
  }
  // An uninterrupted bake: the layer every recovered run must hold too.
  reference = (async () => {
    const lab = await (labs[0] as Promise<Lab>);
    const result = await lab.bake(REFERENCE);
    assert.equal(result.code, 0, why(result));
    return (await layerDigest(lab.world, `${REFERENCE}-manifests`, '1.2.3')) ?? '';
  })();
});
after(async () => {
  await Promise.allSettled(labs.map(async (lab) => (await lab).stop()));
});

async function crashAndRerun(lab: Lab, p: Point): Promise<void> {
  const { world } = lab;
  const repository = `${p.service}-manifests`;
  world.faults.clear();
  clearToolFaults(world.controlDir);
  clearCalls(world.controlDir);
  const reached = p.hold(lab, p.service);
  const toolCache = p.freshTools ? await lab.freshToolCache() : undefined;
  const start = performance.now();
  let root: string | undefined;
  let held = false;
  const killed = await lab.bake(
    p.service,
    {},
    {
      ...(toolCache ? { toolCache } : {}),
      killWhen: () => (held ||= reached()),
      timeoutMs: 60_000,
      beforePost: async ({ state, githubToken }) => {
        root = state['root'];
        if (root) await assertPrivate(root, [...world.secrets(), githubToken]);
      },
    },
  );
  assert.ok(
    root,
    `main saved its private root first (code ${killed.code}, signal ${killed.signal})\n${why(killed)}`,
  );
  assert.ok(held && killed.signal === 'SIGKILL', `killed at "${p.point}"\n${why(killed)}`);
  const tagged = await world.tagDigest(world.region, repository, '1.2.3');

  world.faults.clear();
  clearToolFaults(world.controlDir);
  const rerun = await lab.bake(p.service, {}, toolCache ? { toolCache } : {});
  const digest = rerun.outputs['digest'] ?? '';
  const signed = await signatures(world, repository, digest);
  const layer = await layerDigest(world, repository, '1.2.3');
  record({
    kind: 'crash',
    point: p.point,
    recovered: rerun.code === 0 && signed === 1 && layer === (await reference),
    digest,
    reused: rerun.outputs['reused'] === 'true',
    signatures: signed,
    ms: since(start),
  });
  assert.equal(rerun.code, 0, why(rerun));
  assert.equal(
    digest,
    await world.tagDigest(world.region, repository, '1.2.3'),
    'the output is what the tag holds',
  );
  if (tagged) {
    assert.equal(digest, tagged, 'the tag the killed run published was not rewritten');
    assert.equal(rerun.outputs['reused'], 'true');
  }
  assert.equal(layer, await reference, 'the same content as an uninterrupted bake');
  assert.equal(signed, 1, 'exactly one signature');
}

describe('killed at a point of the pipeline, then re-run', { concurrency: true }, () => {
  shards.forEach((shard, i) => {
    test(shard.map((p) => p.point).join('; '), async () => {
      const lab = await (labs[i] as Promise<Lab>);
      await reference;
      for (const p of shard) await crashAndRerun(lab, p);
    });
  });
});
