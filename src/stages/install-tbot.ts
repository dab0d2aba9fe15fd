import { need } from '../context.ts';
import { remoteOnly, stage } from '../pipeline.ts';
import { type InstalledTool, installForRun } from '../tools/install.ts';

declare module '../context.ts' {
  interface Results {
    'install-tbot': InstalledTool;
  }
}

export const installTbot = stage({
  name: 'install-tbot',
  needs: ['teleport-version'],
  after: ['preflight'],
  skip: remoteOnly,
  run: (ctx, log) => installForRun(ctx, log, 'tbot', need(ctx, 'teleport-version').version),
});
