/**
 * The design decision, as pure functions of per-design results (no files, no clock):
 * - the front: every design (uniform, mixed layouts of every family, full precision) by stored bits
 *   per pixel, with mean validation Dice and test Dice (t-interval across seeds); a design is
 *   non-dominated when no other has fewer-or-equal bits and higher-or-equal mean VALIDATION Dice with
 *   one of the two strict. Equal bits and equal validation Dice: neither dominates, both stay on the
 *   front. Collapsed seeds are left out of every mean; a design with no usable seed is not on the front.
 * - the decision: "the most saving within ΔDice ≤ τ of full precision", chosen on validation Dice and
 *   reported on test Dice (see DECISION_RULE); nothing is selected on the test set.
 * A claim ("within τ", "beats") needs a paired interval over ≥ 3 seeds; with fewer the text says
 * "one seed: no claim" / "N seeds: no claim".
 */
import { mean, pairedDifferences, tInterval, type Interval } from './stats.js';

/** Full precision (the reference), a uniform readout (every pixel at k bits), or a mixed layout. */
export type DesignKind = 'full-precision' | 'uniform' | 'mixed';

/** One seed of one design: mean Dice over the validation and the test images. */
export interface SeedDice {
  seed: number;
  valDice: number;
  testDice: number;
  collapsed: boolean;
}

/** One design (a point of the front) with its runs, one per seed. */
export interface DesignRow {
  /** e.g. 'full-precision', 'uniform-a', 'uniform-b', 'learned', 'random', 'dither', 'blue-noise', 'content', 'lesion', 'designer', 'multilevel'. */
  family: string;
  /** Unique across the rows, e.g. 'uniform-b-4bit', 'dither-b0.5'. */
  designId: string;
  kind: DesignKind;
  /** Stored (expected) bits per pixel. */
  bitsPerPixel: number;
  /** Storage saving against full precision, percent. */
  savingPct: number;
  seeds: SeedDice[];
}

/** A design on the front's axes. */
export interface FrontPoint {
  family: string;
  designId: string;
  kind: DesignKind;
  bitsPerPixel: number;
  savingPct: number;
  nSeeds: number;
  /** Seeds not collapsed: the only ones averaged. */
  nUsed: number;
  nCollapsed: number;
  /** Mean validation Dice over used seeds (NaN when none). */
  valMean: number;
  /** Test Dice over used seeds: mean and t-interval across seeds (NaN bounds below 2 seeds). */
  test: Interval;
  /** Not dominated on (bits per pixel ↓, mean validation Dice ↑); false when nUsed = 0. */
  nonDominated: boolean;
}

const compare = <T extends number | string>(a: T, b: T): number => (a < b ? -1 : a > b ? 1 : 0);

const usedSeeds = (d: DesignRow) => d.seeds.filter((s) => !s.collapsed && Number.isFinite(s.valDice) && Number.isFinite(s.testDice));

function toPoint(d: DesignRow, level: number): FrontPoint {
  const used = usedSeeds(d);
  return {
    family: d.family,
    designId: d.designId,
    kind: d.kind,
    bitsPerPixel: d.bitsPerPixel,
    savingPct: d.savingPct,
    nSeeds: d.seeds.length,
    nUsed: used.length,
    nCollapsed: d.seeds.filter((s) => s.collapsed).length,
    valMean: mean(used.map((s) => s.valDice)),
    test: tInterval(used.map((s) => s.testDice), level),
    nonDominated: false,
  };
}

function dominates(a: FrontPoint, b: FrontPoint): boolean {
  return a.bitsPerPixel <= b.bitsPerPixel && a.valMean >= b.valMean && (a.bitsPerPixel < b.bitsPerPixel || a.valMean > b.valMean);
}

/**
 * Every design as a front point, sorted by bits per pixel ascending (then validation Dice descending,
 * then design id), with `nonDominated` set on validation means. Throws RangeError on duplicate ids.
 */
export function paretoFront(designs: readonly DesignRow[], level = 0.95): FrontPoint[] {
  const ids = new Set<string>();
  for (const d of designs) {
    if (ids.has(d.designId)) throw new RangeError(`design id ${d.designId} appears twice`);
    ids.add(d.designId);
  }
  const points = designs.map((d) => toPoint(d, level));
  const usable = points.filter((p) => p.nUsed > 0);
  for (const p of usable) p.nonDominated = !usable.some((q) => q !== p && dominates(q, p));
  const val = (p: FrontPoint) => (Number.isNaN(p.valMean) ? -Infinity : p.valMean);
  return points.sort((a, b) => a.bitsPerPixel - b.bitsPerPixel || compare(val(b), val(a)) || compare(a.designId, b.designId));
}

/** The selection rule, printed next to the decision. */
export function decisionRule(tolerance: number): string {
  return (
    `Rule: among designs with at least one non-collapsed seed, those whose mean validation Dice is at least ` +
    `full precision's minus τ = ${tolerance}; the largest storage saving wins (ties: higher mean validation Dice, then design id). ` +
    `Chosen on validation Dice, reported on test Dice; collapsed seeds are left out; a claim needs a paired interval over at least 3 seeds.`
  );
}

/** Claim status of a paired test comparison. */
export type ClaimStatus = 'no-claim' | 'supported' | 'not-supported';

/** A paired (by seed, non-collapsed on both sides) difference of test Dice, a − b, with its t-interval. */
export interface PairedTest {
  nPairs: number;
  diff: Interval;
  claim: ClaimStatus;
  /** e.g. "ΔDice −0.004 [−0.012, 0.004], 3 seeds: within τ" or "one seed: no claim". */
  text: string;
}

export interface DecisionOptions {
  /** τ: the largest drop of mean validation Dice below full precision that still qualifies. */
  tolerance: number;
  /** Id of the full-precision design; default the one row of kind 'full-precision'. */
  baselineId?: string;
  /** Interval coverage (default 0.95). */
  level?: number;
}

export interface Decision {
  tolerance: number;
  rule: string;
  baseline: FrontPoint;
  /** The most saving design within τ on validation (full precision itself when nothing else qualifies). */
  chosen: FrontPoint;
  /** chosen − full precision on test; the claim is "within τ" (interval's lower end ≥ −τ). */
  vsBaseline: PairedTest;
  /** The rule applied to uniform designs only, and to mixed layouts only (undefined: none qualifies). */
  bestUniform?: FrontPoint;
  bestMixed?: FrontPoint;
  /** The rule over all designs picked a mixed layout. */
  mixedBeatsUniform: boolean;
  /** best mixed − best uniform on test, when both exist; the claim is "not worse by more than τ". */
  mixedVsUniform?: PairedTest;
  /** "The most saving within ΔDice ≤ τ of full precision: …". */
  headline: string;
  /** The plain-words sentence on mixed layouts against the best uniform design. */
  mixedSentence: string;
}

function seedMap(d: DesignRow): Map<number, number> {
  return new Map(usedSeeds(d).map((s) => [s.seed, s.testDice]));
}

export function seedsNoClaim(n: number): string {
  return n === 0 ? 'no paired seeds: no claim' : n === 1 ? 'one seed: no claim' : `${n} seeds: no claim`;
}

const f3 = (v: number) => (Number.isFinite(v) ? v.toFixed(3) : 'n/a');
const signed = (v: number) => (Number.isFinite(v) ? (v >= 0 ? '+' : '−') + Math.abs(v).toFixed(3) : 'n/a');
const pct = (v: number) => `${v.toFixed(1)} %`;

/** "0.470 [0.455, 0.485]"; without bounds "0.470 (one seed)". */
function withInterval(iv: Interval, fmt = f3): string {
  if (Number.isFinite(iv.lo) && Number.isFinite(iv.hi)) return `${fmt(iv.estimate)} [${fmt(iv.lo)}, ${fmt(iv.hi)}]`;
  return `${fmt(iv.estimate)} (${iv.n === 1 ? 'one seed' : `${iv.n} seeds`})`;
}

/** Paired test difference a − b; the claim holds when the interval's lower end is ≥ −tolerance (≥ 3 pairs). */
export function pairedTest(a: DesignRow, b: DesignRow, tolerance: number, supported: string, notSupported: string, level = 0.95): PairedTest {
  const { diffs } = pairedDifferences(seedMap(a), seedMap(b));
  const diff = tInterval(diffs, level);
  const head = `ΔDice ${withInterval(diff, signed)}`;
  if (diffs.length < 3) return { nPairs: diffs.length, diff, claim: 'no-claim', text: `${head}, ${seedsNoClaim(diffs.length)}` };
  const ok = diff.lo >= -tolerance;
  return { nPairs: diffs.length, diff, claim: ok ? 'supported' : 'not-supported', text: `${head}, ${diffs.length} seeds: ${ok ? supported : notSupported}` };
}

/** The rule of `decisionRule` over `candidates`; undefined when none qualifies. */
function pick(candidates: readonly FrontPoint[], threshold: number): FrontPoint | undefined {
  // 1e-12 of slack so that a design exactly τ below full precision (in decimal) is not lost to rounding.
  const ok = candidates.filter((p) => p.nUsed > 0 && p.valMean >= threshold - 1e-12);
  ok.sort((a, b) => compare(b.savingPct, a.savingPct) || compare(b.valMean, a.valMean) || compare(a.designId, b.designId));
  return ok[0];
}

/** How a detector engineer names a design of a known family, given its stored bits per pixel. */
const FAMILY_WORDS: Record<string, (bits: number) => string> = {
  'full-precision': (b) => `full precision (${b} bits/pixel)`,
  'uniform-a': (b) => `every pixel at ${b} bits, U-Net not retrained`,
  'uniform-b': (b) => `every pixel at ${b} bits, U-Net retrained`,
  learned: (b) => `learned layout, ${b} bits/pixel`,
  random: (b) => `random layout, ${b} bits/pixel`,
  dither: (b) => `ordered-dither layout, ${b} bits/pixel`,
  'blue-noise': (b) => `blue-noise layout, ${b} bits/pixel`,
  content: (b) => `content layout (outside the body first), ${b} bits/pixel`,
  lesion: (b) => `lesion-frequency layout (where training lesions were rarest first), ${b} bits/pixel`,
  designer: (b) => `the designer's layout, ${b} bits/pixel`,
  multilevel: (b) => `learned multi-level layout, ${b} bits/pixel`,
};

/** "every pixel at 4 bits, U-Net retrained [uniform-b-4bit]"; other families: "id (family, b bits/pixel)". */
function label(p: FrontPoint): string {
  const bits = Number(p.bitsPerPixel.toFixed(3));
  const words = FAMILY_WORDS[p.family];
  return words ? `${words(bits)} [${p.designId}]` : `${p.designId} (${p.family}, ${bits} bits/pixel)`;
}

/**
 * The decision over `designs` (see the module comment and decisionRule). Throws RangeError when the
 * full-precision design is missing, ambiguous or has no usable seed: without it there is no reference.
 */
export function decide(designs: readonly DesignRow[], opts: DecisionOptions): Decision {
  const { tolerance } = opts;
  const level = opts.level ?? 0.95;
  if (!(tolerance >= 0)) throw new RangeError(`tolerance must be ≥ 0, got ${tolerance}`);
  const front = paretoFront(designs, level);
  const byId = new Map(designs.map((d) => [d.designId, d]));
  let baselineId = opts.baselineId;
  if (baselineId === undefined) {
    const fp = designs.filter((d) => d.kind === 'full-precision');
    if (fp.length !== 1) throw new RangeError(`need exactly one full-precision design, found ${fp.length}`);
    baselineId = fp[0]!.designId;
  }
  const baseline = front.find((p) => p.designId === baselineId);
  if (!baseline) throw new RangeError(`baseline design ${baselineId} not among the designs`);
  if (baseline.nUsed === 0) throw new RangeError(`baseline design ${baselineId} has no non-collapsed seed`);
  const threshold = baseline.valMean - tolerance;
  const chosen = pick(front, threshold)!; // the baseline always qualifies
  const bestUniform = pick(front.filter((p) => p.kind === 'uniform'), threshold);
  const bestMixed = pick(front.filter((p) => p.kind === 'mixed'), threshold);
  const mixedBeatsUniform = chosen.kind === 'mixed';
  const vsBaseline = pairedTest(byId.get(chosen.designId)!, byId.get(baseline.designId)!, tolerance, `within τ = ${tolerance} of full precision`, `not shown within τ = ${tolerance} of full precision on test`, level);
  const mixedVsUniform =
    bestMixed && bestUniform
      ? pairedTest(byId.get(bestMixed.designId)!, byId.get(bestUniform.designId)!, tolerance, `not worse than the uniform design by more than τ`, `worse than the uniform design by more than τ is not ruled out`, level)
      : undefined;

  const what = chosen === baseline ? `nothing saves storage: full precision ${label(chosen)}` : `${label(chosen)}, saving ${pct(chosen.savingPct)}`;
  const headline =
    `The most saving within ΔDice ≤ ${tolerance} of full precision (chosen on validation, reported on test): ${what}, ` +
    `test Dice ${withInterval(chosen.test)}` +
    (chosen === baseline ? '.' : `; against full precision ${vsBaseline.text}.`);

  let mixedSentence: string;
  if (!front.some((p) => p.kind === 'mixed' && p.nUsed > 0)) {
    mixedSentence = 'No mixed layout was measured (or every run of one collapsed).';
  } else if (!bestMixed) {
    mixedSentence = bestUniform
      ? `No mixed layout beats the best uniform design at τ = ${tolerance}: no mixed layout is within τ of full precision on validation, ` +
        `while the uniform design ${label(bestUniform)} saves ${pct(bestUniform.savingPct)}.`
      : `No mixed layout is within τ = ${tolerance} of full precision on validation.`;
  } else if (!mixedBeatsUniform) {
    mixedSentence = bestUniform
      ? `No mixed layout beats the best uniform design at τ = ${tolerance}: the uniform design ${label(bestUniform)} saves ${pct(bestUniform.savingPct)}, ` +
        `the best mixed layout, ${label(bestMixed)}, saves ${pct(bestMixed.savingPct)}.`
      : `No mixed layout saves more than full precision within τ = ${tolerance}.`;
  } else {
    mixedSentence = bestUniform
      ? `A mixed layout beats the best uniform design at τ = ${tolerance}: ${label(bestMixed)} saves ${pct(bestMixed.savingPct)} against ` +
        `the uniform design ${label(bestUniform)} at ${pct(bestUniform.savingPct)}; on test, mixed − uniform ${mixedVsUniform!.text}.`
      : `A mixed layout beats every uniform design at τ = ${tolerance}: no uniform design is within τ, ${label(bestMixed)} saves ${pct(bestMixed.savingPct)}.`;
  }
  return { tolerance, rule: decisionRule(tolerance), baseline, chosen, vsBaseline, bestUniform, bestMixed, mixedBeatsUniform, mixedVsUniform, headline, mixedSentence };
}
