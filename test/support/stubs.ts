/** A stub that answers every call with `answer` and counts the calls in `.calls`. */
export function counted<A extends unknown[], R>(answer: (...args: A) => R) {
  const stub = (...args: A): R => {
    stub.calls++;
    return answer(...args);
  };
  stub.calls = 0;
  return stub;
}

/** A clock that moves only when slept on: `now` and `sleep` for retry options, so deadlines pass without waiting. */
export function fakeClock() {
  let time = 0;
  return {
    now: () => time,
    sleep: async (ms: number) => {
      time += ms;
    },
  };
}
