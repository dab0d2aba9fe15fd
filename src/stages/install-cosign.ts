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
  after: ['preflight'],
  skip: (ctx) => remoteOnly(ctx) ?? (ctx.inputs.sign ? undefined : 'sign: false'),
  run: (ctx, log) => installForRun(ctx, log, 'cosign', ctx.inputs.cosignVersion),
});
