/**
 * How deeply a parsed JSON value nests, counted without recursion, so a hostile document cannot
 * overflow the stack here; schema validators recurse, so callers check this first.
 * Stops counting once past `limit` (returns limit + 1).
 */
export function jsonDepth(value: unknown, limit = Infinity): number {
  let deepest = 0;
  const stack: Array<{ v: unknown; d: number }> = [{ v: value, d: 0 }];
  while (stack.length) {
    const { v, d } = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    const depth = d + 1;
    if (depth > deepest) deepest = depth;
    if (deepest > limit) return limit + 1;
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push({ v: child, d: depth });
  }
  return deepest;
}

/** The nesting a profile or config may have: theirs is 3 levels; anything far deeper is not one. */
export const MAX_JSON_DEPTH = 32;
