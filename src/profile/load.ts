import { UserError } from '../errors.js';
import { MAX_JSON_DEPTH, nestingDepth, readJsonFile, readShippedSchema } from '../util/json-file.js';
import type { Budget, DetectorProfile, QuantizerRule } from './types.js';
import { compileSchema, schemaProblems, type SchemaProblem } from '../util/validate.js';
import { detectorSectionProblems, type DetectorSectionJson } from './detector-section.js';

/** The profile as written in JSON (see schemas/detector-profile.schema.json). */
interface ProfileJson {
  name: string;
  description?: string;
  geometry: { rows: number; cols: number };
  adc: { nativeBits: number; modes: number[]; quantizer?: QuantizerRule };
  budget: { fraction?: number; bitsPerPixel?: number; sweep?: number[] };
  detector?: DetectorSectionJson;
}

/** Every problem of a parsed profile document: schema first, then the rules a schema cannot say. */
export function profileProblems(doc: unknown): SchemaProblem[] {
  // Schema validators recurse: a hostile document nested far deeper than any profile is refused first.
  if (nestingDepth(doc, MAX_JSON_DEPTH) > MAX_JSON_DEPTH) return [{ pointer: '/', message: `nested deeper than ${MAX_JSON_DEPTH} levels; not a detector profile` }];
  const schemaIssues = schemaProblems(compileSchema(readShippedSchema('detector-profile.schema.json')), doc);
  if (schemaIssues.length) return schemaIssues;
  const p = doc as ProfileJson;
  const problems: SchemaProblem[] = [];
  const native = p.adc.nativeBits;
  p.adc.modes.forEach((kept, i) => {
    if (kept >= native)
      problems.push({ pointer: `/adc/modes/${i}`, message: `kept bits must be below nativeBits (${native}), got ${kept}` });
  });
  const { fraction, bitsPerPixel, sweep } = p.budget;
  if ((fraction === undefined) === (bitsPerPixel === undefined)) {
    problems.push({ pointer: '/budget', message: 'expected exactly one of "fraction" or "bitsPerPixel"' });
    return problems;
  }
  if (fraction !== undefined && p.adc.modes.length > 1)
    problems.push({
      pointer: '/budget/fraction',
      message: 'a profile with several modes needs "bitsPerPixel" (a fraction does not say which mode)',
    });
  const lowest = Math.min(...p.adc.modes);
  const checkBudget = (v: number, pointer: string) => {
    if (fraction !== undefined && (v < 0 || v > 1))
      problems.push({ pointer, message: `expected a fraction in [0, 1], got ${v}` });
    if (bitsPerPixel !== undefined && (v < lowest || v > native))
      problems.push({ pointer, message: `expected bits per pixel in [${lowest}, ${native}], got ${v}` });
  };
  checkBudget(fraction ?? bitsPerPixel!, fraction !== undefined ? '/budget/fraction' : '/budget/bitsPerPixel');
  sweep?.forEach((v, i) => checkBudget(v, `/budget/sweep/${i}`));
  return problems.length ? problems : detectorSectionProblems(doc);
}

/** Loads and validates a detector profile; throws a UserError naming the file, the JSON pointer and what was expected. */
export function loadProfile(path: string): DetectorProfile {
  const doc = readJsonFile(path, 'detector profile');
  const problems = profileProblems(doc);
  if (problems.length) {
    const first = problems[0]!;
    const more = problems.length > 1 ? ` (and ${problems.length - 1} more problem(s))` : '';
    throw new UserError(`${first.message}${more}`, { file: path, pointer: first.pointer });
  }
  return toProfile(doc as ProfileJson, path);
}

function toProfile(p: ProfileJson, file?: string): DetectorProfile {
  const budget: Budget =
    p.budget.fraction !== undefined
      ? { kind: 'fraction', value: p.budget.fraction }
      : { kind: 'bitsPerPixel', value: p.budget.bitsPerPixel! };
  return {
    name: p.name,
    description: p.description ?? '',
    rows: p.geometry.rows,
    cols: p.geometry.cols,
    nativeBits: p.adc.nativeBits,
    modes: [...p.adc.modes].sort((a, b) => b - a),
    rule: p.adc.quantizer ?? 'floor',
    budget,
    sweep: p.budget.sweep ?? [],
    file,
    // Only when present, so an image-space profile's object (and experiment.json) stays as it was.
    ...(p.detector ? { detector: { ...p.detector } } : {}),
  };
}

/** The study's setup (8-bit readout, 1 bit kept, budget 0.5) at a given size: the embedded default. */
export function studyProfile(rows = 512, cols = rows): DetectorProfile {
  return toProfile({
    name: 'study-8bit-1bit',
    description: 'The published setup: 8-bit readout, 1-bit mode (k = 7), half the pixels quantized.',
    geometry: { rows, cols },
    adc: { nativeBits: 8, modes: [1], quantizer: 'floor' },
    budget: { fraction: 0.5, sweep: [0.25, 0.5, 0.75] },
  });
}
