// What every ECR operation gets: the registry the call acts on, who calls, and the API's own bookkeeping.
import type { EcrRecorder } from './recorder.ts';
import type { Registries, RegistryState } from './state.ts';

/** The principal behind a request's credentials. */
export interface Caller {
  /** The account of the assumed role: whose registry a call without `registryId` acts on. */
  readonly account: string;
  /** `arn:aws:sts::<account>:assumed-role/<role>/<session>`, as AWS names the principal in errors. */
  readonly arn: string;
  readonly accessKeyId: string;
}

export interface OperationContext {
  /** The registry the call acts on: `registryId`'s, else the caller's own, in the region of the SigV4 scope. */
  readonly registry: RegistryState;
  readonly caller: Caller;
  /** Every registry of the world (GetAuthorizationToken's proxy endpoints). */
  readonly registries: Registries;
  /** Records a secret the operation issued (registry passwords, authorization tokens). */
  issued(...secrets: string[]): void;
  /** Lifetime of the registry tokens GetAuthorizationToken issues now (12 h unless a test shortened it). */
  readonly tokenLifetimeMs: number;
  readonly recorder: EcrRecorder;
}

/** One ECR operation: its JSON input in, its JSON output (or a thrown EcrError) out. */
export type Operation = (ctx: OperationContext, input: Record<string, unknown>) => Promise<unknown>;
