import { toolEnv } from '../child-env.ts';
import { code, need } from '../context.ts';
import { cosignEnv, VERIFY_TIMEOUT_MS, type VerifyTarget, verifyOnce, verifyWithBackoff } from '../cosign.ts';
import { remoteOnly, stage } from '../pipeline.ts';

declare module '../context.ts' {
  interface Results {
    'verify-signature': { attempts: number };
  }
}

/** How long Sigstore and the registry get to show a fresh signature before the job gives up. */
export const VERIFY_BACKOFF = { attempts: 8, baseMs: 2_000, maxDelayMs: 20_000, deadlineMs: 2 * 60_000 };

/** `cosign verify` with the exact identity and issuer, as Flux will run it, retried for Sigstore's lag. */
export const verifySignature = stage({
  name: 'verify-signature',
  needs: ['sign', 'push', 'login'],
  // Read only when signing; `sign: false` skips this stage below.
  after: ['install-cosign'],
  skip: (ctx) => remoteOnly(ctx) ?? (ctx.inputs.sign ? undefined : 'sign: false'),
  async run(ctx, log) {
    const signing = need(ctx, 'sign');
    if (!signing.enabled) throw new Error('internal: verify-signature ran with signing off');
    const installed = need(ctx, 'install-cosign');
    const { artifact } = need(ctx, 'push');
    const target: VerifyTarget = { artifact, identity: signing.identity, issuer: signing.issuer };
    if (!signing.signedNow) {
      // Nothing was signed since the sign stage's own `cosign verify` passed for this identity and issuer.
      log.info(`✔ ${artifact} verified for ${target.identity} (issuer ${target.issuer}) before signing`);
      ctx.facts.push({
        label: 'signature verified',
        value: ['✔ for ', code(target.identity), ', by the check before signing'],
      });
      return { attempts: 0 };
    }
    const cosign = {
      path: installed.path,
      version: installed.version,
      env: cosignEnv(toolEnv((await need(ctx, 'login').fresh(log)).dockerConfig)),
      signal: ctx.signal,
      timeoutMs: VERIFY_TIMEOUT_MS,
    };
    log.info(
      `cosign verify --certificate-identity ${target.identity} --certificate-oidc-issuer ${target.issuer} ${artifact}`,
    );
    const attempts = await verifyWithBackoff(() => verifyOnce(cosign, target), target, {
      ...VERIFY_BACKOFF,
      signal: ctx.signal,
      onRetry: (error, n, ms) =>
        log.info(
          `attempt ${n}: ${error instanceof Error ? error.message : String(error)}; retrying in ${ms} ms`,
        ),
    });
    log.info(`✔ ${artifact} verifies for ${target.identity} (issuer ${target.issuer})`);
    ctx.facts.push({
      label: 'signature verified',
      value: ['✔ for ', code(target.identity), attempts > 1 ? ` after ${attempts} attempts` : ''],
    });
    return { attempts };
  },
});
