// Request counts per server (target) and request kind, so tests can assert what reached each service.

export type CounterSnapshot = Record<string, Record<string, number>>;

export class Counters {
  readonly #counts = new Map<string, Map<string, number>>();

  inc(target: string, kind: string): void {
    let perKind = this.#counts.get(target);
    if (!perKind) {
      perKind = new Map();
      this.#counts.set(target, perKind);
    }
    perKind.set(kind, (perKind.get(kind) ?? 0) + 1);
  }

  /** Requests of `kind` seen by `target`; kind '*' (default) sums all kinds. */
  get(target: string, kind = '*'): number {
    const perKind = this.#counts.get(target);
    if (!perKind) return 0;
    if (kind !== '*') return perKind.get(kind) ?? 0;
    let total = 0;
    for (const n of perKind.values()) total += n;
    return total;
  }

  snapshot(): CounterSnapshot {
    const out: CounterSnapshot = {};
    for (const [target, perKind] of [...this.#counts].sort(([a], [b]) => a.localeCompare(b))) {
      out[target] = Object.fromEntries([...perKind].sort(([a], [b]) => a.localeCompare(b)));
    }
    return out;
  }

  reset(): void {
    this.#counts.clear();
  }
}
