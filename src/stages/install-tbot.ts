import { need } from '../context.ts';
import { stage } from '../pipeline.ts';
import { type InstalledTool, installForRun } from '../tools.ts';

declare module '../context.ts' {
  interface Results {
    'install-tbot': InstalledTool;
  }
}

export const installTbot = stage({
  name: 'install-tbot',
  needs: ['teleport-version'],
  after: ['preflight'],
  skip: (ctx) => (ctx.inputs.dryRun ? 'dry run' : undefined),
  run: (ctx, log) => installForRun(ctx, log, 'tbot', need(ctx, 'teleport-version').version),
});
