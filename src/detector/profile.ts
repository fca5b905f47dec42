/**
 * The optional `detector` section of a detector profile (schemas/detector-profile.schema.json):
 * the rules the schema cannot say, and the section turned into a scan geometry and readout settings.
 * The image-space loader (src/profile/load.ts) validates the schema; loadDetectorSpace adds these rules.
 */
import { UserError } from '../errors.js';
import { loadProfile, profileProblems } from '../profile/load.js';
import type { DetectorProfile } from '../profile/types.js';
import type { SchemaProblem } from '../util/validate.js';
import { readJsonFile } from '../util/json-file.js';
import { WATER_MU_70KEV_PER_MM } from './attenuation.js';
import type { Apodisation } from './fbp.js';
import { checkGeometry, type Beam, type ScanGeometry } from './geometry.js';
import type { AdcSettings } from './readout.js';

/** The section as written in JSON. */
export interface DetectorSectionJson {
  beam: Beam;
  channels: number;
  views: number;
  coverageDeg: 180 | 360;
  detectorRows?: 1;
  channelMm: number;
  sourceToIsoMm?: number;
  sourceToDetectorMm?: number;
  pixelMm: number;
  i0: number;
  sigmaE: number;
  fullScaleCounts: number;
  waterMu?: number;
  apodisation?: Apodisation;
}

/** A detector-space design: scan, readout noise and ADC, with the image-space profile it came with. */
export interface DetectorSpace {
  profile: DetectorProfile;
  section: DetectorSectionJson;
  adc: AdcSettings;
  i0: number;
  sigmaE: number;
  waterMu: number;
  apodisation: Apodisation;
}

/** Problems of the detector section beyond the schema (empty when absent or fine); doc already passed the schema. */
export function detectorSectionProblems(doc: unknown): SchemaProblem[] {
  const section = (doc as { detector?: DetectorSectionJson }).detector;
  if (!section) return [];
  const problems: SchemaProblem[] = [];
  if (section.beam === 'fan') {
    for (const key of ['sourceToIsoMm', 'sourceToDetectorMm'] as const)
      if (section[key] === undefined) problems.push({ pointer: `/detector/${key}`, message: 'required field is missing (fan beam)' });
    if (section.coverageDeg !== 360)
      problems.push({ pointer: '/detector/coverageDeg', message: `a fan-beam scan must cover 360 degrees (no short-scan weights), got ${section.coverageDeg}` });
    const { sourceToIsoMm: iso, sourceToDetectorMm: det } = section;
    if (iso !== undefined && det !== undefined && det <= iso)
      problems.push({ pointer: '/detector/sourceToDetectorMm', message: `expected more than sourceToIsoMm (${iso}), got ${det}` });
  } else {
    for (const key of ['sourceToIsoMm', 'sourceToDetectorMm'] as const)
      if (section[key] !== undefined) problems.push({ pointer: `/detector/${key}`, message: 'only a fan beam has a source distance' });
  }
  if (section.fullScaleCounts < section.i0)
    problems.push({ pointer: '/detector/fullScaleCounts', message: `expected at least i0 (${section.i0}; air readings would clip), got ${section.fullScaleCounts}` });
  return problems;
}

/** Loads a profile that must have a `detector` section; throws a UserError (file, pointer, one line) like loadProfile. */
export function loadDetectorSpace(path: string): DetectorSpace {
  const profile = loadProfile(path);
  const doc = readJsonFile(path, 'detector profile');
  const section = (doc as { detector?: DetectorSectionJson }).detector;
  if (!section) throw new UserError('required field is missing (detector-space mode)', { file: path, pointer: '/detector' });
  const problems = detectorSectionProblems(doc);
  if (problems.length) {
    const more = problems.length > 1 ? ` (and ${problems.length - 1} more problem(s))` : '';
    throw new UserError(`${problems[0]!.message}${more}`, { file: path, pointer: problems[0]!.pointer });
  }
  return {
    profile,
    section,
    adc: { nativeBits: profile.nativeBits, fullScaleCounts: section.fullScaleCounts, rule: profile.rule },
    i0: section.i0,
    sigmaE: section.sigmaE,
    waterMu: section.waterMu ?? WATER_MU_70KEV_PER_MM,
    apodisation: section.apodisation ?? 'shepp-logan',
  };
}

/** Every problem of a document in detector-space mode: the profile's, then the section's. */
export function detectorProfileProblems(doc: unknown): SchemaProblem[] {
  const base = profileProblems(doc);
  return base.length ? base : detectorSectionProblems(doc);
}

/** The scan geometry of a section on an image grid of rows × cols (the data's size). */
export function scanGeometry(section: DetectorSectionJson, rows: number, cols: number): ScanGeometry {
  const g: ScanGeometry = {
    beam: section.beam,
    channels: section.channels,
    views: section.views,
    coverageDeg: section.coverageDeg,
    channelMm: section.channelMm,
    sourceToIsoMm: section.sourceToIsoMm ?? 0,
    sourceToDetectorMm: section.sourceToDetectorMm ?? 0,
    rows,
    cols,
    pixelMm: section.pixelMm,
  };
  checkGeometry(g);
  return g;
}
