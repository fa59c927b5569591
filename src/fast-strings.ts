/**
 * Keeps `String.prototype` a fast-mode object, so that optimized code calls string methods
 * (`indexOf`, `slice`, `startsWith`, `charCodeAt`…) directly.
 *
 * ioredis defines `class VerbatimString extends String`. Giving `String.prototype` an heir makes V8
 * (Node 20 to 24 at least) turn it into a dictionary-mode object, and from then on every string
 * method call in optimized code goes through a generic property lookup: string-heavy code such as
 * the signed-query parser ran 4–5× slower in every process that had loaded ioredis, clustered or
 * not (a `POST /batch_events` of ten events took 2 µs more; bench/RESULTS.md). V8 makes a
 * prototype fast again, for good, once a property load through an object that inherits from it
 * directly has been recorded by an inline cache: a String wrapper object is such an object.
 */
export function keepStringMethodsFast(): void {
  const wrapper: object = Object('');
  const load = (o: object): unknown => (o as { slice?: unknown }).slice;
  // Inline caches are only allocated after a function's first few calls: run well past that.
  for (let i = 0; i < 1000; i++) load(wrapper);
}
