// Checks the lifetimes tests give the world's credentials (STS keys, JWT SVIDs, registry tokens).

/** `seconds` when it is undefined or a whole number >= 1 (the precision of STS Expiration and JWT exp); throws otherwise. */
export function lifetimeSeconds(name: string, seconds: number | undefined): number | undefined {
  if (seconds !== undefined && (!Number.isInteger(seconds) || seconds < 1))
    throw new Error(`${name} must be a whole number of seconds >= 1, not ${seconds}`);
  return seconds;
}
