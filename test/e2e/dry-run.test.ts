import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { leakedSecrets, runAction } from '../harness/run-action.ts';
import { createSampleRepo, type SampleRepo } from '../world/sample-repo.ts';

let dir: string;
let repo: SampleRepo;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bake-dry-'));
  repo = await createSampleRepo(dir);
});
after(() => rm(dir, { recursive: true, force: true }));

const gitEnv = () => ({ GITHUB_SERVER_URL: repo.serverUrl, GITHUB_REPOSITORY: repo.repository });

test('a dry run on a tag push resolves, checks out, substitutes and reports what it would push', async () => {
  const result = await runAction({
    dir: await mkdtemp(join(dir, 'run-')),
    inputs: { service: 'sample-service', 'dry-run': 'true', images: 'sample_service' },
    env: gitEnv(),
  });
  assert.equal(result.code, 0, result.stdout + result.stderr);
  assert.deepEqual(result.outputs, { version: '1.2.3' });
  const commit = repo.tags.get('1.2.3')!;
  assert.match(result.summary, /Dry run/);
  assert.ok(result.summary.includes(`<code>1.2.3@sha1:${commit}</code>`), result.summary);
  assert.ok(
    result.summary.includes('515260921971.dkr.ecr.us-west-2.amazonaws.com/sample-service-manifests:1.2.3'),
  );
  assert.match(result.summary, /<code>deployment\.yaml<\/code> × 2/);
  assert.match(result.summary, /<code>configmap\.yml<\/code> × 1/);
  assert.match(result.summary, /<code>helmrelease\.yaml<\/code> × 1/);
  // Timings for every stage that ran.
  for (const stage of ['resolve', 'checkout', 'substitute', 'plan'])
    assert.match(result.summary, new RegExp(`<td>${stage}</td>`));
  assert.match(result.stdout, /deployment\.yaml: 2 ×/);
  assert.equal(result.post?.code, 0);
  assert.deepEqual(await readdir(result.runnerTemp), [], 'post removed everything under RUNNER_TEMP');
  assert.deepEqual(leakedSecrets(result, [result.githubToken]), []);
  assert.ok(result.masks.includes(result.githubToken), 'the token is masked');
});

test('a dry run takes the workflow_dispatch input tag and the lightweight tag it names', async () => {
  const result = await runAction({
    dir: await mkdtemp(join(dir, 'run-')),
    inputs: { service: 'sample-service', 'dry-run': 'true' },
    env: {
      ...gitEnv(),
      GITHUB_EVENT_NAME: 'workflow_dispatch',
      GITHUB_REF: 'refs/heads/main',
      GITHUB_REF_NAME: 'main',
    },
    event: { inputs: { tag: '1.2.4' } },
  });
  assert.equal(result.code, 0, result.stdout);
  assert.equal(result.outputs['version'], '1.2.4');
  assert.ok(result.summary.includes(`1.2.4@sha1:${repo.tags.get('1.2.4')}`));
  assert.match(result.summary, /<code>extra\.yaml<\/code> × 1/);
  assert.match(result.summary, /files baked<\/td><td>5</);
});

test('a branch push with no tag fails in resolve and says to set tag', async () => {
  const result = await runAction({
    dir: await mkdtemp(join(dir, 'run-')),
    inputs: { service: 'sample-service', 'dry-run': 'true' },
    env: { ...gitEnv(), GITHUB_REF: 'refs/heads/main', GITHUB_REF_NAME: 'main' },
  });
  assert.equal(result.code, 1);
  assert.match(result.failure ?? '', /^resolve: .*refs\/heads\/main.*set `tag: X\.Y\.Z`/);
});

test('a bad input fails with exit 1 naming the input, and nothing is fetched', async () => {
  const result = await runAction({
    dir: await mkdtemp(join(dir, 'run-')),
    inputs: { service: 'Sample_Service', 'dry-run': 'true' },
    // An unreachable server: validation must fail before any fetch is tried.
    env: { GITHUB_SERVER_URL: 'file:///nonexistent', GITHUB_REPOSITORY: repo.repository },
  });
  assert.equal(result.code, 1);
  assert.match(result.failure ?? '', /input 'service' is "Sample_Service": .*kebab-case/);
  assert.doesNotMatch(result.stdout, /checkout|git /);
  assert.deepEqual(result.outputs, {});
});

test('checkout: false bakes the workspace as it is', async () => {
  const result = await runAction({
    dir: await mkdtemp(join(dir, 'run-')),
    inputs: { service: 'sample-service', 'dry-run': 'true', checkout: 'false', tag: '1.2.4' },
    env: { ...gitEnv(), GITHUB_WORKSPACE: repo.workTree },
  });
  assert.equal(result.code, 0, result.stdout);
  assert.match(result.stdout, /using the workspace/);
  assert.match(result.summary, /extra\.yaml/);
});
