/**
 * The optional `detector` section of a detector profile (schemas/detector-profile.schema.json):
 * the rules the schema cannot say, and the section turned into a scan geometry and readout settings.
 * The section's type and its rules beyond the schema live in src/profile/detector-section.ts, so every
 * profile load checks them; this module turns a section into a scan geometry and readout settings.
 */
import { UserError } from '../errors.js';
import { loadProfile, profileProblems } from '../profile/load.js';
import type { DetectorProfile } from '../profile/types.js';
import type { SchemaProblem } from '../util/validate.js';
import { detectorSectionProblems, type DetectorSectionJson } from '../profile/detector-section.js';
import { WATER_MU_70KEV_PER_MM } from './attenuation.js';
import type { Apodisation } from './fbp.js';
import { checkGeometry, type ScanGeometry } from './geometry.js';
import type { AdcSettings } from './readout.js';

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

/** Loads a profile that must have a `detector` section; throws a UserError (file, pointer, one line) like loadProfile. */
export function loadDetectorSpace(path: string): DetectorSpace {
  const space = detectorSpaceOf(loadProfile(path));
  if (!space) throw new UserError('required field is missing (detector-space mode)', { file: path, pointer: '/detector' });
  return space;
}

/** Every problem of a document in detector-space mode: the profile's, then the section's. */
export function detectorProfileProblems(doc: unknown): SchemaProblem[] {
  return profileProblems(doc);
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

export { detectorSectionProblems, type DetectorSectionJson };

/** The detector space of a loaded profile, or null when it has no `detector` section (image space). */
export function detectorSpaceOf(profile: DetectorProfile): DetectorSpace | null {
  const section = profile.detector;
  if (!section) return null;
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
