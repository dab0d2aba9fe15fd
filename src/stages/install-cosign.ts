import { remoteOnly, stage } from '../pipeline.ts';
import { type InstalledTool, installForRun } from '../tools/install.ts';

declare module '../context.ts' {
  interface Results {
    'install-cosign': InstalledTool;
  }
}

export const installCosign = stage({
  name: 'install-cosign',
  needs: [],
  // After teleport-version, as install-flux: nothing is downloaded for a cluster below the Teleport floor.
  after: ['preflight', 'teleport-version'],
  skip: (ctx) => remoteOnly(ctx) ?? (ctx.inputs.sign ? undefined : 'sign: false'),
  run: (ctx, log) => installForRun(ctx, log, 'cosign', ctx.inputs.cosignVersion),
});
