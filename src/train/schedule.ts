/**
 * Learning rate and temperature as pure functions of training progress, so a resumed run
 * recomputes exactly what an uninterrupted one used.
 */
export interface LearningRateSchedule {
  base: number;
  /** Linear warm-up from base/10 to base over this many steps. */
  warmupSteps: number;
  /** Step after which the rate decays linearly to floor·base at the last step. */
  decayStartStep: number;
  totalSteps: number;
  floor: number;
}

/** Learning rate at `step` (0-based): warm-up, then constant, then linear decay (the study's recipe). */
export function learningRateAt(s: LearningRateSchedule, step: number): number {
  if (s.warmupSteps > 0 && step < s.warmupSteps) return s.base * (0.1 + 0.9 * (step / s.warmupSteps));
  if (step < s.decayStartStep || s.totalSteps <= s.decayStartStep) return s.base;
  const t = Math.min(1, (step - s.decayStartStep) / Math.max(1, s.totalSteps - 1 - s.decayStartStep));
  return s.base * (1 - (1 - s.floor) * t);
}

/** Relaxed-Bernoulli temperature annealed geometrically from `start` to `end` over training. */
export function temperatureAt(start: number, end: number, step: number, totalSteps: number): number {
  if (totalSteps <= 1) return end;
  const t = Math.min(1, step / (totalSteps - 1));
  return start * Math.pow(end / start, t);
}
