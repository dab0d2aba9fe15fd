import { deleteCommand, type EcrRegistry, fixCommand } from './ecr.ts';
import { ActionError } from './errors.ts';
import type { Log } from './log.ts';
import { type RetryOptions, retry } from './retry.ts';

// What the secondary-region mirror decides, from what each region's ECR says it stores (never a registry read).

/** What the mirror does with the signature tag: nothing to mirror, already there, or written now. */
export type SignatureAction = 'none' | 'mirrored' | 'copy' | 'replace';

/** Where the mirror writes, for messages and the commands they give. */
export interface MirrorPlace {
  primary: EcrRegistry;
  secondary: EcrRegistry;
  repository: string;
  tag: string;
}

/** A signature tag as one region stores it; `layers` (one key per signature) are read only when the regions differ. */
export interface SignatureState {
  digest: string;
  layers?: readonly string[];
}

/** How long ECR gets to show what was just written before the job gives up (progress is logged on each look). */
export const STORE_WAIT = { attempts: 10, baseMs: 1_000, maxDelayMs: 10_000, deadlineMs: 90_000 };

export const where = (p: MirrorPlace, tag = p.tag) =>
  `${p.secondary.host}/${p.repository}:${tag} (${p.secondary.region})`;

/** The reference digest is what the primary region stores under the tag, and it must be this run's bake. */
export function checkReference(baked: string, primary: string | undefined, place: MirrorPlace): string {
  if (primary === baked) return primary;
  throw new ActionError(
    `${place.repository}:${place.tag} in ${place.primary.region} ${primary ? `stores ${primary}` : 'stores nothing'}, not ${baked} that this run baked and verified; nothing mirrored`,
    { hint: 'the tag changed under this run; re-run the job to bake and mirror what the tag holds now' },
  );
}

/** What to do with the version tag in the secondary region, judged only from what ECR says it stores there. */
export function judgeArtifact(
  baked: string,
  secondary: string | undefined,
  place: MirrorPlace,
): 'copy' | 'mirrored' {
  if (secondary === undefined) return 'copy';
  if (secondary === baked) return 'mirrored';
  throw new ActionError(`${where(place)} already holds ${secondary}, not ${baked}; nothing overwritten`, {
    hint: `a published tag is never replaced; if the mirror should hold this bake, delete the tag there first: ${deleteCommand(place.secondary, place.repository, place.tag)}`,
  });
}

/**
 * The primary's signature tag goes to the secondary as it is, so Flux there verifies as it does in the primary.
 * A different one there is replaced only when every signature it holds is also in the primary's (the usual
 * case: a later signature was appended in the primary), so a mirror never drops a signature.
 */
export function judgeSignature(
  primary: SignatureState | undefined,
  secondary: SignatureState | undefined,
  signaturesWritable: boolean,
  place: MirrorPlace,
  tag: string,
): SignatureAction {
  if (!primary) return 'none';
  if (!secondary) return 'copy';
  if (secondary.digest === primary.digest) return 'mirrored';
  if (!primary.layers || !secondary.layers) throw new Error('internal: signature layers not read');
  const kept = new Set(primary.layers);
  const lost = secondary.layers.filter((layer) => !kept.has(layer));
  if (lost.length > 0) {
    throw new ActionError(
      `${where(place, tag)} holds ${lost.length} signature(s) the primary's ${primary.digest} does not; replacing it would drop them`,
      {
        hint: `if the primary's signatures are the ones to keep, delete the secondary's signature tag and re-run: ${deleteCommand(place.secondary, place.repository, tag)}`,
      },
    );
  }
  if (!signaturesWritable) {
    throw new ActionError(
      `${where(place, tag)} holds an older signature (${secondary.digest}), and the repository there does not let signature tags change`,
      { hint: `allow sha256-* tags to change there: ${fixCommand(place.secondary, place.repository)}` },
    );
  }
  return 'replace';
}

class NotStoredYet extends Error {}

/**
 * Looks until ECR says it stores something under the reference; returns what it stores. Absence is waited for
 * (bounded, each look logged), since ECR may lag behind a write; any failure of the look itself ends the wait.
 */
export async function waitUntilStored(
  look: () => Promise<string | undefined>,
  what: string,
  log: Log,
  options: Partial<Omit<RetryOptions, 'classify'>> = {},
): Promise<string> {
  try {
    return await retry(
      async () => {
        const found = await look();
        if (found === undefined) throw new NotStoredYet(`ECR does not show ${what} yet`);
        return found;
      },
      {
        ...STORE_WAIT,
        ...options,
        classify: (error) => (error instanceof NotStoredYet ? 'retry' : 'fail'),
        onRetry: (_error, n, ms) =>
          log.info(`waiting for ECR to show ${what}: look ${n} found nothing; next look in ${ms} ms`),
      },
    );
  } catch (error) {
    if (!(error instanceof NotStoredYet)) throw error;
    throw new ActionError(`ECR still does not show ${what}`, {
      hint: 'ECR may be lagging; re-run the job (the copy is by digest, so a re-run resumes where this one stopped)',
    });
  }
}
