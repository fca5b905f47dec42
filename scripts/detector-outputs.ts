/**
 * Writes (or rewrites) the detector-space outputs of a finished experiment folder, <dir>/detector/
 * (src/pipeline/detector-outputs.ts): the folder's runs, profile, config and data as recorded.
 *   node --import tsx scripts/detector-outputs.ts out/<folder>
 */
import { startBackend } from '../src/backend/index.js';
import { prepareData } from '../src/experiments/data.js';
import { readExperimentRecord } from '../src/experiments/record.js';
import { writeDetectorOutputs } from '../src/pipeline/detector-outputs.js';
import { mergeRuns } from '../src/runs/store.js';

const dir = process.argv[2];
if (!dir) throw new Error('usage: scripts/detector-outputs.ts <experiment folder>');
await startBackend('wasm');
const record = readExperimentRecord(dir);
const prepared = await prepareData(record.data, record.profile, record.config);
const { files } = await writeDetectorOutputs(dir, mergeRuns([dir]), record.profile, record.config, prepared.split.test);
for (const f of files) console.log(f);
