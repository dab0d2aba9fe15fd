import { code, need } from '../context.ts';
import { Ecr, type RepositoryState } from '../ecr.ts';
import { remoteOnly, stage } from '../pipeline.ts';

declare module '../context.ts' {
  interface Results {
    repository: RepositoryState;
  }
}

export const repository = stage({
  name: 'repository',
  needs: ['resolve', 'assume'],
  skip: remoteOnly,
  async run(ctx, log) {
    const name = ctx.inputs.repository;
    const { version } = need(ctx, 'resolve');
    const ecr = await Ecr.forRun(ctx, ctx.inputs.registry, log);
    let state: RepositoryState;
    try {
      state = await ecr.ensureRepository(name, version);
    } finally {
      ecr.close();
    }
    ctx.facts.push({
      label: 'repository',
      value: [code(name), ` ${state.created ? 'created' : 'exists'}, ${state.rules}`],
    });
    return state;
  },
});
