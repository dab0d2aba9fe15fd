import { remoteOnly, stage } from '../pipeline.ts';
import { type InstalledTool, installForRun } from '../tools/install.ts';

declare module '../context.ts' {
  interface Results {
    'install-flux': InstalledTool;
  }
}

export const installFlux = stage({
  name: 'install-flux',
  // Starts with the run (after the preflight), overlapping resolve, checkout and substitute.
  needs: [],
  after: ['preflight'],
  skip: remoteOnly,
  run: (ctx, log) => installForRun(ctx, log, 'flux', ctx.inputs.fluxVersion),
});
