// `npm run sandbox`: start the test world, run the bundled action once on the sample service as a
// runner would, print what a release engineer would look at, and stop everything (`--keep` waits for Ctrl-C).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inputsFor } from '../harness/bake-world.ts';
import { runAction } from '../harness/run-action.ts';
import { PRIMARY_REGION, startWorld } from './index.ts';
import { createSampleRepo } from './sample-repo.ts';

const keep = process.argv.includes('--keep');

/** The job summary as plain text: one line per table row. */
function text(html: string): string {
  return html
    .replace(/<\/(tr|h\d|p)>/g, '\n')
    .replace(/<\/t[dh]>/g, ' | ')
    .replace(/<br>/g, ', ')
    .replace(/<[^>]+>/g, '')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&#124;/g, '|')
    .replace(/&amp;/g, '&')
    .replace(/ \| \n/g, '\n')
    .trim();
}

const dir = await mkdtemp(join(tmpdir(), 'bake-sandbox-'));
const world = await startWorld();
let code = 1;
try {
  const repo = await createSampleRepo(dir);
  await world.seedImage(PRIMARY_REGION, 'sample_service', '1.2.3');
  console.log(
    `test world up in ${world.dir}; baking sample-service 1.2.3 from ${repo.serverUrl}/${repo.repository}\n`,
  );
  const result = await runAction({
    dir: join(dir, 'run'),
    inputs: { ...inputsFor(world), service: 'sample-service', images: 'sample_service' },
    env: { ...world.env(), GITHUB_SERVER_URL: repo.serverUrl, GITHUB_REPOSITORY: repo.repository },
  });
  code = result.code ?? 1;
  console.log('── action log ──');
  console.log(result.stdout.trimEnd());
  if (result.stderr.trim()) console.log(`── stderr ──\n${result.stderr.trimEnd()}`);
  console.log('\n── job summary ──');
  console.log(text(result.summary));
  console.log('\n── outputs ──');
  for (const name of ['version', 'digest', 'artifact', 'reused']) {
    console.log(`${name}: ${result.outputs[name] ?? '(not produced)'}`);
  }
  if (!result.outputs['digest']) {
    console.log(
      '\nNo digest: the stages marked "not run" or "failed" above did not produce one (see the job summary).',
    );
  }
  console.log(`\nexit code: ${result.code}; post step exit code: ${result.post?.code}`);
  const registry = world.registry(PRIMARY_REGION);
  console.log('\n── the registry ──');
  console.log(
    `ECR front (what the action used): https://${world.registryHost} (Basic auth with the ECR token)`,
  );
  console.log(`raw registry, no auth:            ${registry}`);
  console.log(`  curl -s ${registry}/v2/sample-service-manifests/tags/list`);
  console.log(
    `  curl -s -H 'Accept: application/vnd.oci.image.manifest.v1+json' ${registry}/v2/sample-service-manifests/manifests/1.2.3`,
  );
  if (keep) {
    console.log('\n--keep: the world stays up until Ctrl-C');
    await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
  }
} finally {
  await world.stop();
  await rm(dir, { recursive: true, force: true });
}
process.exit(code);
