import { code, need } from '../context.ts';
import { ActionError } from '../errors.ts';
import { ANNOTATIONS, compareArtifact, pullFluxArtifact } from '../flux-artifact.ts';
import { ociClientFor } from '../oci.ts';
import { remoteOnly, stage } from '../pipeline.ts';
import { readTree } from '../tree.ts';
import { PLACEHOLDER } from '../versions.ts';

declare module '../context.ts' {
  interface Results {
    'verify-artifact': { files: number };
  }
}

/** Files of the pulled artifact that still hold the placeholder, as `path:line`. */
export function placeholderHits(files: Map<string, Buffer>): string[] {
  const hits: string[] = [];
  for (const [path, bytes] of files) {
    const text = bytes.toString('latin1');
    for (let at = text.indexOf(PLACEHOLDER); at !== -1; at = text.indexOf(PLACEHOLDER, at + 1)) {
      hits.push(`${path}:${text.slice(0, at).split('\n').length}`);
    }
  }
  return hits;
}

/** Pulls the artifact back by digest, as Flux will, and checks it holds exactly the baked files. */
export const verifyArtifact = stage({
  name: 'verify-artifact',
  needs: ['plan', 'substitute', 'login', 'push'],
  skip: remoteOnly,
  async run(ctx, log) {
    const plan = need(ctx, 'plan');
    const baked = need(ctx, 'substitute');
    const { digest, artifact } = need(ctx, 'push');
    const { authorization } = await need(ctx, 'login').fresh(log);
    const repository = ctx.inputs.repository;
    const client = ociClientFor(ctx, log, ctx.inputs.registry.host, authorization);
    const fail = (what: string) =>
      new ActionError(`the artifact pulled back from ${artifact} ${what}`, {
        hint: 'the registry does not hold what was baked; do not deploy this digest, and report it',
      });

    const pulled = await pullFluxArtifact(client, repository, digest);
    if (!pulled) throw fail('is not in the registry');
    const expected = { revision: plan.revision, files: await readTree(baked.dir) };
    const differences = compareArtifact(expected, pulled);
    if (differences.length > 0) throw fail(`differs from the bake: ${differences.join('; ')}`);
    const hits = placeholderHits(pulled.files);
    if (hits.length > 0) throw fail(`still holds ${PLACEHOLDER} at ${hits.join(', ')}`);
    const source = pulled.annotations[ANNOTATIONS.source];
    if (source !== plan.source) throw fail(`names source ${source ?? '(none)'}, not ${plan.source}`);
    const tagged = await client.headManifest(repository, plan.tag);
    if (tagged?.digest !== digest) {
      throw fail(`is not what tag ${plan.tag} points at (${tagged?.digest ?? 'absent'})`);
    }

    log.info(
      `✔ ${artifact}: ${pulled.files.size} files byte-identical to the bake, layer ${pulled.layer.digest}`,
    );
    log.info(`✔ revision ${plan.revision}, source ${plan.source}, no ${PLACEHOLDER} left`);
    ctx.facts.push({
      label: 'pulled back',
      value: [`${pulled.files.size} files identical, by digest `, code(digest)],
    });
    return { files: pulled.files.size };
  },
});
