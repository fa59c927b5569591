/**
 * Milliseconds since the process started, as an integer: connection timestamps stay small
 * integers that V8 keeps inline, where `Date.now()` values would each need a boxed number.
 */
export const monotonicMs = (): number => Math.floor(performance.now());
