/** A failure the user can act on: `message` says what happened, `hint` what to do about it. */
export class ActionError extends Error {
  readonly hint: string | undefined;

  constructor(message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ActionError';
    this.hint = options.hint;
  }
}

/**
 * One line: the message and the causes that add information, then what to do: every hint along the chain, the
 * outer first (a stage's "check the version" and, under it, a proxy's "it wants credentials" both help).
 */
export function describeError(error: unknown): string {
  const parts: string[] = [];
  const hints: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && depth < 4; depth++) {
    const text = current instanceof Error ? current.message : String(current);
    if (text && !parts.some((part) => part.includes(text))) parts.push(text);
    // A hint already in a message (a StageFailure quotes its cause whole) is not repeated.
    const hint = current instanceof ActionError ? current.hint : undefined;
    if (hint && !hints.includes(hint) && !parts.some((part) => part.includes(hint))) hints.push(hint);
    current = current instanceof Error ? current.cause : undefined;
  }
  return parts.join(': ') + (hints.length > 0 ? ` — ${hints.join('; ')}` : '');
}

/** Quotes a value for an error message, escaping control and non-ASCII characters so look-alikes show. */
export function show(value: string): string {
  const clipped = value.length > 80 ? `${value.slice(0, 80)}…(${value.length} chars)` : value;
  return JSON.stringify(clipped).replace(
    /[^\x20-\x7e]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}
