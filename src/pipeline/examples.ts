import { join } from 'node:path';
import type { ExperimentConfig } from '../config/experiment-config.js';
import type { CtDataset } from '../data/types.js';
import { modelForPoint, pointOfRun } from '../experiments/run-point.js';
import type { DetectorProfile } from '../profile/types.js';
import type { ExampleInput } from '../report/examples.js';
import { learnsLayout, type RunResult } from '../runs/types.js';
import { predictMasks } from '../train/evaluate.js';
import { restoreModelState } from '../train/trainer.js';

/** The run the examples show: the first learned run at the profile's budget that did not collapse, else the baseline. */
function exampleRun(runs: readonly RunResult[], profile: DetectorProfile): RunResult | undefined {
  return (
    runs.find((r) => learnsLayout(r.setup) && !r.collapsed && r.budget === profile.budget.value) ??
    runs.find((r) => r.setup === 'baseline' && !r.collapsed)
  );
}

/** Hardware-layout predictions of `run` (restored from its checkpoint under `dir`) for slices `indices` of `test`, titled. */
async function predictedExamples(
  dir: string,
  run: RunResult,
  test: CtDataset,
  profile: DetectorProfile,
  config: ExperimentConfig,
  indices: number[],
  title: (index: number) => string,
): Promise<ExampleInput[]> {
  const model = modelForPoint(profile, config, pointOfRun(run), test);
  try {
    restoreModelState(model, join(dir, run.checkpoint!));
    const preds = await predictMasks(model, test, { mode: 'hardware', batchSize: config.batchSize, indices });
    return indices.map((idx, k) => ({
      image: test.slices[idx]!.image,
      mask: test.slices[idx]!.mask,
      prediction: preds[k]!,
      rows: test.height,
      cols: test.width,
      nativeBits: test.nativeBits,
      title: title(idx),
    }));
  } finally {
    model.dispose();
  }
}

/**
 * A few test images with lesions (the four largest) and the hardware-layout prediction of the first
 * learned run at the profile's budget (else the baseline), restored from its checkpoint, for the report.
 */
export async function examplePredictions(
  outDir: string,
  runs: readonly RunResult[],
  test: CtDataset,
  profile: DetectorProfile,
  config: ExperimentConfig,
): Promise<ExampleInput[]> {
  const run = exampleRun(runs, profile);
  if (!run?.checkpoint) return [];
  const indices = test.slices
    .map((s, i) => ({ i, lesion: s.mask.reduce((a, v) => a + v, 0) }))
    .filter((x) => x.lesion > 0)
    .sort((a, b) => b.lesion - a.lesion)
    .slice(0, 4)
    .map((x) => x.i);
  return predictedExamples(outDir, run, test, profile, config, indices, (idx) => `${test.slices[idx]!.name} (${run.id})`);
}

/**
 * The best and worst slices (`count` each) of evaluated data by the example run's per-image Dice
 * (`runs` hold the Dice just measured on `test`), among slices with lesions when there are any;
 * each titled with its Dice. Models are restored from `runDir`, the folder that trained them.
 */
export async function bestAndWorstExamples(
  runDir: string,
  runs: readonly RunResult[],
  test: CtDataset,
  profile: DetectorProfile,
  config: ExperimentConfig,
  count = 2,
): Promise<ExampleInput[]> {
  const run = exampleRun(runs, profile);
  if (!run?.checkpoint || run.dice.perImage.length !== test.slices.length) return [];
  const withLesion = test.slices.map((s, i) => (s.mask.some((v) => v === 1) ? i : -1)).filter((i) => i >= 0);
  const pool = withLesion.length > 0 ? withLesion : test.slices.map((_, i) => i);
  // Best first; ties by lower index, so the choice is deterministic.
  const ranked = [...pool].sort((a, b) => run.dice.perImage[b]! - run.dice.perImage[a]! || a - b);
  const best = ranked.slice(0, count);
  const worst = ranked.slice(Math.max(count, ranked.length - count)).reverse();
  const label = new Map([...best.map((i) => [i, 'best'] as const), ...worst.map((i) => [i, 'worst'] as const)]);
  return predictedExamples(runDir, run, test, profile, config, [...best, ...worst], (idx) =>
    `${test.slices[idx]!.name}: Dice ${run.dice.perImage[idx]!.toFixed(3)} (${label.get(idx)}, ${run.id})`,
  );
}
