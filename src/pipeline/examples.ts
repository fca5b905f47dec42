import { join } from 'node:path';
import type { ExperimentConfig } from '../config/experiment-config.js';
import type { CtDataset } from '../data/types.js';
import { modelForPoint, pointOfRun } from '../experiments/run-point.js';
import type { DetectorProfile } from '../profile/types.js';
import type { ExampleInput } from '../report/examples.js';
import { learnsLayout, type RunResult } from '../runs/types.js';
import { predictMasks } from '../train/evaluate.js';
import { restoreModelState } from '../train/trainer.js';

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
  const run =
    runs.find((r) => learnsLayout(r.setup) && !r.collapsed && r.budget === profile.budget.value) ??
    runs.find((r) => r.setup === 'baseline' && !r.collapsed);
  if (!run?.checkpoint) return [];
  const model = modelForPoint(profile, config, pointOfRun(run), test);
  try {
    restoreModelState(model, join(outDir, run.checkpoint));
    const indices = test.slices
      .map((s, i) => ({ i, lesion: s.mask.reduce((a, v) => a + v, 0) }))
      .filter((x) => x.lesion > 0)
      .sort((a, b) => b.lesion - a.lesion)
      .slice(0, 4)
      .map((x) => x.i);
    const preds = await predictMasks(model, test, { mode: 'hardware', batchSize: config.batchSize, indices });
    return indices.map((idx, k) => ({
      image: test.slices[idx]!.image,
      mask: test.slices[idx]!.mask,
      prediction: preds[k]!,
      rows: test.height,
      cols: test.width,
      nativeBits: test.nativeBits,
      title: `${test.slices[idx]!.name} (${run.id})`,
    }));
  } finally {
    model.dispose();
  }
}
