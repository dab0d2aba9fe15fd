// Injected faults: the next N requests of a kind at a target answer an error, throttle, reset, delay or hang.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';

export type FaultKind = '5xx' | 'error' | 'throttle' | 'reset' | 'delay' | 'hang';

export interface FaultSpec {
  /** 'ecr', 'sts', 'teleport', 'oidc', 'mirror', 'registry:<region>'. */
  target: string;
  /** Request kind at that target (ECR operation, STS action, 'manifest-put', ...); '*' (default) matches all. */
  kind?: string;
  fault: FaultKind;
  /** How many matching requests the fault answers; default 1, Infinity for all. */
  count?: number;
  /** For 'delay': how long to wait before serving normally. */
  delayMs?: number;
  /** HTTP status for '5xx' (default 503) and 'error' (default per service and code). */
  status?: number;
  /** For 'error' (and optionally '5xx'): the service's error code, e.g. 'IDPCommunicationError'. */
  code?: string;
  message?: string;
  /** Only requests whose URL (path and query) contains this string match. */
  urlIncludes?: string;
}

export interface Fault extends Readonly<FaultSpec> {
  /** Requests this fault has answered so far. */
  readonly hits: number;
  /** Requests it will still answer. */
  readonly remaining: number;
}

interface Entry {
  spec: FaultSpec;
  remaining: number;
  hits: number;
}

/** The service-shaped error a server sends for a fault; each server knows its own wire format. */
export interface ErrorShape {
  status: number;
  code: string;
  message: string;
}

export type ErrorWriter = (res: ServerResponse, error: ErrorShape) => void;

export interface ServiceFaultStyle {
  /** Writes an error the way the service does. */
  write: ErrorWriter;
  /** The service's generic server error code for '5xx'. */
  serverCode: string;
  /** The service's throttling answer. */
  throttle: ErrorShape;
  /** Default status for an 'error' fault with this code. */
  statusFor?: (code: string) => number;
}

export class Faults {
  readonly #entries: Entry[] = [];
  /** Responses parked by 'hang'; the servers destroy their sockets at stop. */
  readonly #hung = new Set<ServerResponse>();

  inject(spec: FaultSpec): Fault {
    if (spec.fault === 'delay' && spec.delayMs === undefined) throw new Error('fault delay needs delayMs');
    const entry: Entry = { spec: { ...spec }, remaining: spec.count ?? 1, hits: 0 };
    this.#entries.push(entry);
    return {
      ...entry.spec,
      get hits() {
        return entry.hits;
      },
      get remaining() {
        return entry.remaining;
      },
    };
  }

  /** Removes all faults (those not yet used up included). */
  clear(): void {
    this.#entries.length = 0;
  }

  /** Faults with requests still to answer. */
  pending(): FaultSpec[] {
    return this.#entries.filter((e) => e.remaining > 0).map((e) => ({ ...e.spec, count: e.remaining }));
  }

  /** Consumes and returns the first fault matching this request, if any. */
  take(target: string, kind: string, url = ''): FaultSpec | undefined {
    const entry = this.#entries.find(
      (e) =>
        e.remaining > 0 &&
        e.spec.target === target &&
        (e.spec.kind === undefined || e.spec.kind === '*' || e.spec.kind === kind) &&
        (e.spec.urlIncludes === undefined || url.includes(e.spec.urlIncludes)),
    );
    if (!entry) return undefined;
    entry.remaining -= 1;
    entry.hits += 1;
    return entry.spec;
  }

  /**
   * Applies a matching fault to the request. Returns true when the fault answered (or dropped) the request,
   * false when the server should serve it normally (no fault, or a delay that has elapsed).
   */
  async apply(
    target: string,
    kind: string,
    req: IncomingMessage,
    res: ServerResponse,
    style: ServiceFaultStyle,
  ): Promise<boolean> {
    const fault = this.take(target, kind, req.url ?? '');
    if (!fault) return false;
    switch (fault.fault) {
      case 'delay':
        await sleep(fault.delayMs ?? 0);
        return res.destroyed;
      case 'reset':
        req.socket.destroy();
        return true;
      case 'hang':
        // Never answer; drain the body so the client's upload does not stall on flow control instead.
        req.resume();
        this.#hung.add(res);
        res.on('close', () => this.#hung.delete(res));
        return true;
      case 'throttle':
        req.resume();
        style.write(res, { ...style.throttle, ...(fault.message ? { message: fault.message } : {}) });
        return true;
      case '5xx': {
        req.resume();
        const code = fault.code ?? style.serverCode;
        style.write(res, {
          status: fault.status ?? 503,
          code,
          message: fault.message ?? 'Service unavailable',
        });
        return true;
      }
      case 'error': {
        req.resume();
        const code = fault.code ?? style.serverCode;
        const status = fault.status ?? style.statusFor?.(code) ?? 400;
        style.write(res, { status, code, message: fault.message ?? `injected ${code}` });
        return true;
      }
    }
  }

  /** Drops the parked 'hang' responses (their sockets are closed with the servers). */
  releaseHung(): void {
    for (const res of this.#hung) res.socket?.destroy();
    this.#hung.clear();
  }
}
