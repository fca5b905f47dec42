import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { BackendName } from '../backend/index.js';
import type { ExperimentConfig } from '../config/experiment-config.js';
import { UserError } from '../errors.js';
import type { DetectorProfile } from '../profile/types.js';
import { readJsonFile, writeJsonAtomic } from '../util/json-file.js';
import type { DataSource } from './data.js';
import type { FixedFamily } from '../runs/types.js';
import type { DesignerLayout } from './plan.js';

/**
 * What a run folder records about how it was made (experiment.json): eval and merge rebuild its
 * models from it, and worker processes read their whole task from it (no flags passed on).
 */
export interface ExperimentRecord {
  kind: string;
  profile: DetectorProfile;
  config: ExperimentConfig;
  data: DataSource;
  /** Sweep budgets asked for on the command line (absent: the profile's). */
  budgets?: number[];
  /** Fixed layout families asked for with `--families` (absent: all). */
  families?: FixedFamily[];
  /** A designer's layout (`--layout FILE`) at the training size (absent: none). */
  designer?: DesignerLayout;
  /** τ of the design decision (`--tolerance`; absent: 0.02). */
  tolerance?: number;
  /** The backend asked for (may be `auto`). */
  backend?: BackendName;
  /** The rules `layoutTraining.prior: auto` was resolved by (LAYOUT_PRIOR_RULES; absent: 1). */
  layoutPriorRules?: number;
  createdAt: string;
}

const recordFile = (dir: string) => join(dir, 'experiment.json');

export function readExperimentRecord(dir: string): ExperimentRecord {
  const file = recordFile(dir);
  if (!existsSync(file)) throw new UserError('not a ctquant run folder (no experiment.json)', { file: dir });
  return readJsonFile(file, 'experiment record') as ExperimentRecord;
}

/** Writes `<dir>/experiment.json` atomically; merge and eval add fields naming their sources. */
export function writeExperimentRecord(dir: string, record: ExperimentRecord & Record<string, unknown>): void {
  writeJsonAtomic(recordFile(dir), record);
}
