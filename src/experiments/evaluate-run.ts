import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../errors.js';
import { mergeRuns } from '../report/merge.js';
import { collapseReason, evaluate } from '../train/evaluate.js';
import { JointModel } from '../train/joint.js';
import { restoreModelState } from '../train/trainer.js';
import { readJsonFile } from '../util/json-file.js';
import type { ExperimentConfig } from './config.js';
import type { DataSource } from './data.js';
import { modelForPoint, pointOfRun } from './run-point.js';
import type { DetectorProfile } from '../profile/types.js';
import type { RunResult } from './types.js';
import type { CtDataset } from '../data/types.js';

/** What a run folder records about how it was made (experiment.json), so eval and merge can rebuild it. */
export interface ExperimentRecord {
  kind: string;
  profile: DetectorProfile;
  config: ExperimentConfig;
  data: DataSource;
  createdAt: string;
}

export function readExperimentRecord(dir: string): ExperimentRecord {
  const file = join(dir, 'experiment.json');
  if (!existsSync(file)) throw new UserError('not a ctquant run folder (no experiment.json)', { file: dir });
  return readJsonFile(file, 'experiment record') as ExperimentRecord;
}

/**
 * Re-evaluates every trained run of `dir` on `test` from its checkpoint. Setup (a) runs are
 * re-derived from their baseline's checkpoint. Returns new RunResults (history kept).
 */
export async function reevaluateRuns(dir: string, record: ExperimentRecord, test: CtDataset, batchSize: number): Promise<RunResult[]> {
  const runs = mergeRuns([dir]);
  const out: RunResult[] = [];
  for (const run of runs) {
    const point = pointOfRun(run);
    const ckpt = join(dir, 'checkpoints', `${point.id}.ckpt`);
    if (!existsSync(ckpt)) throw new UserError(`run ${run.id} has no checkpoint to evaluate`, { file: ckpt });
    const trained = modelForPoint(record.profile, record.config, point);
    try {
      restoreModelState(trained, ckpt);
      const model =
        run.setup === 'all-pixels-baseline'
          ? new JointModel({ ...trained.options, stage: { kind: 'all', keptBits: run.keptBits! } }, trained.unet)
          : trained;
      const dice = await evaluate(model, test, { mode: 'hardware', batchSize });
      const reason = collapseReason(dice, test);
      const next: RunResult = { ...run, dice, collapsed: run.collapsed || reason !== null };
      if (reason && !run.collapsed) next.collapseReason = `on the new data: ${reason}`;
      if (run.diceStochastic) next.diceStochastic = await evaluate(model, test, { mode: 'stochastic', batchSize });
      out.push(next);
    } finally {
      trained.dispose();
    }
  }
  return out;
}
