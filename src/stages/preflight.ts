import { ActionError } from '../errors.ts';
import { remoteOnly, stage } from '../pipeline.ts';

declare module '../context.ts' {
  interface Results {
    preflight: { oidcRequestUrl: string };
  }
}

/** What the job must grant before anything is downloaded or asked of a server. */
export const preflight = stage({
  name: 'preflight',
  needs: [],
  // The version (an input, maybe from the event) is checked before anything below talks to the network.
  after: ['resolve'],
  skip: remoteOnly,
  async run(ctx) {
    const url = ctx.runner.oidcRequestUrl;
    if (!url) {
      throw new ActionError(
        'the job cannot request a GitHub OIDC token (ACTIONS_ID_TOKEN_REQUEST_URL is not set), which tbot needs to join Teleport',
        { hint: 'add `permissions: id-token: write` to the job (or workflow)' },
      );
    }
    return { oidcRequestUrl: url };
  },
});
