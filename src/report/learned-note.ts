/**
 * One sentence on how the report's learned layouts were made (cells, start, masks), from the runs
 * themselves, so a reader knows what "learned" stands for: with the content prior the learned arm
 * starts as the content heuristic's layout, which changes what learned − random means.
 */
import type { RunResult } from '../runs/types.js';
import type { LayoutFamily } from '../quant/layout-family.js';

/** Which pixels share a learned cell, in words. */
function cellsInWords(family: LayoutFamily | undefined): string {
  if (!family || family.family === 'pixel') return 'one cell per pixel';
  if (family.family === 'tile') return `one ${family.tile}×${family.tile} pattern repeated over the detector`;
  const granularity = family.granularity ?? 'block';
  return granularity === 'block' ? `one cell per ${family.block}×${family.block} block` : `one cell per ${granularity}`;
}

/** Where one learned run's logits started, in words. */
function startInWords(run: RunResult): string {
  const hard = run.layoutPriorShape === 'hard' ? ', made hard at its budget' : '';
  if (run.layoutPrior === 'content') return `started from the content heuristic of the training split${hard}`;
  if (run.layoutPrior === 'lesion') return `started from the lesion-frequency heuristic of the training split${hard}`;
  if (run.layoutPrior === 'uniform') return 'started from the uniform ADC of its budget';
  return run.setup === 'multilevel' ? 'started from random level probabilities' : 'started at p ≈ ½ everywhere';
}

/** How one learned run was made, in words. */
function describe(run: RunResult): string {
  const relaxed = run.setup === 'multilevel' ? 'Gumbel-softmax level choices' : 'relaxed-Bernoulli masks';
  const masks = run.straightThrough ? 'straight-through hardware masks' : relaxed;
  return `${cellsInWords(run.layoutFamily)}, ${startInWords(run)}, trained with ${masks}`;
}

/** The one ADC depth of a multi-level run's hardware layout, or undefined when its pixels differ. */
function uniformBits(run: RunResult): number | undefined {
  const bits = run.bitsMap;
  if (run.setup !== 'multilevel' || !bits || bits.length === 0) return undefined;
  return bits.every((b) => b === bits[0]) ? bits[0] : undefined;
}

/**
 * "Learned layouts: …" for the runs' learned and multi-level arms, or undefined when there are none;
 * a multi-level layout that ended with every pixel at one depth is named as that uniform ADC, since
 * the learned arm then adds no design of its own.
 */
export function learnedLayoutNote(runs: readonly RunResult[]): string | undefined {
  const learned = runs.filter((r) => r.setup === 'learned' || r.setup === 'multilevel');
  if (learned.length === 0) return undefined;
  const kinds = [...new Set(learned.map(describe))];
  const multiLevel = learned.filter((r) => r.setup === 'multilevel');
  const ended = multiLevel.flatMap((r) => {
    const bits = uniformBits(r);
    return bits === undefined ? [] : [`${r.id}: ${bits} bits`];
  });
  const endedNote = ended.length === 0 ? '' : ` ${ended.length} of ${multiLevel.length} multi-level runs ended with every pixel at one depth (${ended.join(', ')}), i.e. as a uniform ADC.`;
  return `Learned layouts: ${kinds.join('; ')}.${endedNote}${movedNote(learned)}`;
}

/**
 * How far 1-bit learned runs with a prior moved from the layout it started them on: a run that
 * moved no pixel is the fixed design it started as, so it confirms that design, not a new one.
 */
function movedNote(learned: readonly RunResult[]): string {
  const moved = learned.flatMap((r) => (r.layoutMovedPixels === undefined || !(r.rows * r.cols > 0) ? [] : [r.layoutMovedPixels / (r.rows * r.cols)]));
  if (moved.length === 0) return '';
  const still = moved.filter((m) => m === 0).length;
  if (still === moved.length) {
    return moved.length === 1
      ? ' The 1-bit learned run with a prior ended on the layout its prior started it on (no pixel moved): it is that fixed design, not a learned one.'
      : ` Each of the ${moved.length} 1-bit learned runs with a prior ended on the layout its prior started it on (no pixel moved): each is that fixed design, not a learned one.`;
  }
  const pct = (x: number) => `${(100 * x).toFixed(1)} %`;
  const span = moved.length === 1 ? pct(moved[0]!) : `${pct(Math.min(...moved))} to ${pct(Math.max(...moved))}`;
  return ` The 1-bit learned ${moved.length === 1 ? 'run' : 'runs'} with a prior moved ${span} of ${moved.length === 1 ? 'its' : 'their'} pixels from the layout the prior started ${moved.length === 1 ? 'it' : 'them'} on${still > 0 ? ` (${still} of ${moved.length} moved none)` : ''}.`;
}
