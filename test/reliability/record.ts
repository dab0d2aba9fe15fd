// Outcomes of the reliability suites, one JSON line each, appended to $RELIABILITY_RECORD when it is set
// (`npm run reliability` sets it and turns the lines into docs/reliability.md); a no-op otherwise.
import { appendFileSync } from 'node:fs';

export type Outcome =
  | {
      kind: 'fault';
      /** The remote the fault was injected at, as the doc's rows name it. */
      remote: string;
      fault: string;
      injected: number;
      hit: number;
      /** 'survived': the run succeeded through retries; 'failed': it stopped with a message naming the stage. */
      result: 'survived' | 'failed';
      stage?: string;
      ms: number;
      /** The time the product promises for this case. */
      boundMs: number;
    }
  | {
      kind: 'crash';
      point: string;
      recovered: boolean;
      digest: string;
      reused: boolean;
      signatures: number;
      ms: number;
    }
  | { kind: 'input'; name: string; input: string; rejected: boolean }
  | { kind: 'secrets'; runs: number; scanned: number; leaked: number };

export function record(outcome: Outcome): void {
  const file = process.env['RELIABILITY_RECORD'];
  if (file) appendFileSync(file, `${JSON.stringify(outcome)}\n`);
}

/** One run scanned for `scanned` secret values, `leaked` of them found. */
export const recordSecrets = (scanned: number, leaked: number) =>
  record({ kind: 'secrets', runs: 1, scanned, leaked });
