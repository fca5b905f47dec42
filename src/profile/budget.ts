import type { DetectorProfile } from './types.js';

/**
 * The budgets a profile allows, by the profile schema's rule (src/profile/load.ts): a fraction of
 * pixels in [0, 1], or bits per pixel in [lowest kept bits, nativeBits] (a frame cannot hold fewer
 * bits per pixel than its lowest mode keeps, nor more than native).
 */
export interface BudgetRange {
  kind: DetectorProfile['budget']['kind'];
  min: number;
  max: number;
  /** What the number means, for messages: "a fraction" or "bits per pixel". */
  unit: string;
}

export function budgetRange(profile: Pick<DetectorProfile, 'budget' | 'modes' | 'nativeBits'>): BudgetRange {
  if (profile.budget.kind === 'fraction') return { kind: 'fraction', min: 0, max: 1, unit: 'a fraction' };
  return { kind: 'bitsPerPixel', min: Math.min(...profile.modes), max: profile.nativeBits, unit: 'bits per pixel' };
}

/** Why `value` is not a budget of `profile`, or null when it is one. */
export function budgetProblem(profile: Pick<DetectorProfile, 'budget' | 'modes' | 'nativeBits'>, value: number): string | null {
  const r = budgetRange(profile);
  if (Number.isFinite(value) && value >= r.min && value <= r.max) return null;
  return `expected ${r.unit} in [${r.min}, ${r.max}], got ${value}`;
}
