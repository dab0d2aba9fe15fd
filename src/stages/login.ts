import { code, privateDir } from '../context.ts';
import { Ecr } from '../ecr.ts';
import { remoteOnly, stage } from '../pipeline.ts';
import { RegistryLogin, writeDockerConfig } from '../registry-login.ts';

declare module '../context.ts' {
  interface Results {
    login: RegistryLogin;
  }
}

export const login = stage({
  name: 'login',
  needs: ['assume'],
  skip: remoteOnly,
  async run(ctx, log) {
    const { registry } = ctx.inputs;
    const authorize = async (stageLog: typeof log) => {
      const ecr = await Ecr.forRun(ctx, registry, stageLog);
      try {
        return await ecr.authorization();
      } finally {
        ecr.close();
      }
    };
    const first = await authorize(log);
    const dockerConfig = await privateDir(ctx, 'docker');
    await writeDockerConfig(dockerConfig, registry.host, first.token);
    log.info(
      `logged in to ${registry.host} (${registry.region}); credentials for the tools are in a private DOCKER_CONFIG`,
    );
    ctx.facts.push({ label: 'registry', value: ['logged in to ', code(registry.host)] });
    return new RegistryLogin(registry.host, dockerConfig, first, authorize);
  },
});
