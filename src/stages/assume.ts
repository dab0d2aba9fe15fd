import { code, need } from '../context.ts';
import { remoteOnly, stage } from '../pipeline.ts';
import { AwsSession } from '../session.ts';
import { assumeRole } from '../sts.ts';
import { mintJwt } from '../tbot.ts';

declare module '../context.ts' {
  interface Results {
    assume: { session: AwsSession };
  }
}

export const assume = stage({
  name: 'assume',
  // install-tbot: a session that outlives its credentials runs tbot again for a new JWT.
  needs: ['teleport', 'install-tbot'],
  skip: remoteOnly,
  async run(ctx, log) {
    const jwt = need(ctx, 'teleport');
    const { credentials, arn } = await assumeRole(ctx, jwt.jwt, log);
    log.info(
      `assumed ${arn}${credentials.expiration ? ` until ${credentials.expiration.toISOString()}` : ''}`,
    );
    const session = new AwsSession(jwt, credentials, {
      jwt: (stageLog) => mintJwt(ctx, need(ctx, 'install-tbot'), stageLog),
      credentials: async (token, stageLog) => (await assumeRole(ctx, token, stageLog)).credentials,
    });
    ctx.facts.push({ label: 'role', value: code(ctx.inputs.awsRoleArn) });
    return { session };
  },
});
