import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../errors.js';
import { mergeRuns } from '../runs/store.js';
import { evaluate, evaluateSlicesAndVolumes } from '../train/evaluate.js';
import { JointModel } from '../train/joint.js';
import { restoreModelState } from '../train/trainer.js';
import type { ExperimentRecord } from './record.js';
import { modelForPoint, pointOfRun } from './run-point.js';
import type { RunResult } from '../runs/types.js';
import type { CtDataset } from '../data/types.js';

/**
 * Re-evaluates every trained run of `dir` on `test` from its checkpoint. Setup (a) runs are
 * re-derived from their baseline's checkpoint. Returns new RunResults with the new Dice (its
 * emptyPredictionShare says how often the model drew nothing). Collapse is a training failure,
 * decided on validation data when the run trained: it is carried over as it was, never decided
 * from the scores on this data (a model may score low on another hospital's scans and still be a result).
 * History (training curves) and validationDice are kept: they describe the training.
 */
export async function reevaluateRuns(dir: string, record: ExperimentRecord, test: CtDataset, batchSize: number): Promise<RunResult[]> {
  const runs = mergeRuns([dir]);
  const out: RunResult[] = [];
  for (const run of runs) {
    const point = pointOfRun(run);
    const ckpt = join(dir, 'checkpoints', `${point.id}.ckpt`);
    if (!existsSync(ckpt)) throw new UserError(`run ${run.id} has no checkpoint to evaluate`, { file: ckpt });
    const trained = modelForPoint(record.profile, record.config, point, test);
    try {
      restoreModelState(trained, ckpt);
      const model =
        run.setup === 'all-pixels-baseline'
          ? new JointModel({ ...trained.options, stage: { kind: 'all', keptBits: run.keptBits! } }, trained.unet)
          : trained;
      const { dice, diceVolume } = await evaluateSlicesAndVolumes(model, test, { mode: 'hardware', batchSize });
      const next: RunResult = { ...run, dice, diceVolume };
      if (run.diceStochastic) next.diceStochastic = await evaluate(model, test, { mode: 'stochastic', batchSize, temperature: record.config.temperature.end });
      out.push(next);
    } finally {
      trained.dispose();
    }
  }
  return out;
}
