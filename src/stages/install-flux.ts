import { remoteOnly, stage } from '../pipeline.ts';
import { type InstalledTool, installForRun } from '../tools/install.ts';

declare module '../context.ts' {
  interface Results {
    'install-flux': InstalledTool;
  }
}

export const installFlux = stage({
  name: 'install-flux',
  // Overlaps checkout and substitute; after teleport-version, so a cluster below the Teleport floor fails before
  // any download (flux's 25 MB still arrive long before tbot's bundle).
  needs: [],
  after: ['preflight', 'teleport-version'],
  skip: remoteOnly,
  run: (ctx, log) => installForRun(ctx, log, 'flux', ctx.inputs.fluxVersion),
});
