import { code, need } from '../context.ts';
import { stage } from '../pipeline.ts';

/** What will be pushed, derived once for the push and for a dry run's report. */
export interface Plan {
  /** `<registry>/<service>-manifests` */
  repository: string;
  tag: string;
  /** `oci://<registry>/<repository>:<tag>` as flux takes it. */
  url: string;
  /** `<version>@sha1:<commit>` */
  revision: string;
  /** `${GITHUB_SERVER_URL}/${GITHUB_REPOSITORY}` */
  source: string;
}

declare module '../context.ts' {
  interface Results {
    plan: Plan;
  }
}

export const plan = stage({
  name: 'plan',
  needs: ['resolve', 'checkout', 'substitute'],
  async run(ctx, log) {
    const { version } = need(ctx, 'resolve');
    const { commit } = need(ctx, 'checkout');
    const repository = `${ctx.inputs.registry.host}/${ctx.inputs.repository}`;
    const result: Plan = {
      repository,
      tag: version,
      url: `oci://${repository}:${version}`,
      revision: `${version}@sha1:${commit}`,
      source: `${ctx.runner.serverUrl}/${ctx.runner.repository}`,
    };
    const verb = ctx.inputs.dryRun ? 'would push' : 'pushes';
    log.info(`${verb} ${result.url} (revision ${result.revision}, source ${result.source})`);
    ctx.facts.push(
      { label: ctx.inputs.dryRun ? 'would push' : 'target', value: code(`${repository}:${version}`) },
      { label: 'revision', value: code(result.revision) },
      { label: 'source', value: code(result.source) },
    );
    return result;
  },
});
