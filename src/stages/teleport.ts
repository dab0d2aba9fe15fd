import { preloadAwsSdk } from '../aws.ts';
import { code, need } from '../context.ts';
import { remoteOnly, stage } from '../pipeline.ts';
import { type Jwt, mintJwt } from '../tbot.ts';

declare module '../context.ts' {
  interface Results {
    teleport: Jwt;
  }
}

export const teleport = stage({
  name: 'teleport',
  needs: ['install-tbot'],
  skip: remoteOnly,
  async run(ctx, log) {
    // assume comes next and needs the SDK: it loads while tbot runs.
    preloadAwsSdk();
    const jwt = await mintJwt(ctx, need(ctx, 'install-tbot'), log);
    ctx.facts.push({
      label: 'workload identity',
      value: [code(ctx.inputs.teleportWorkloadIdentity), ' via ', code(ctx.inputs.teleportFqdn)],
    });
    return jwt;
  },
});
