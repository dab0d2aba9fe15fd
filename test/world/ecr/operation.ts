// What every ECR operation gets: the registry the call acts on and the API's own bookkeeping.
import type { RegionState } from './state.ts';

export interface OperationContext {
  /** The registry the call acts on. */
  readonly registry: RegionState;
  /** Records a secret the operation issued (registry passwords, authorization tokens). */
  issued(...secrets: string[]): void;
}

/** One ECR operation: its JSON input in, its JSON output (or a thrown EcrError) out. */
export type Operation = (ctx: OperationContext, input: Record<string, unknown>) => Promise<unknown>;
