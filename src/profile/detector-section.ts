/**
 * The optional `detector` section of a detector profile (schemas/detector-profile.schema.json) as
 * written in JSON, and the rules about it that the schema cannot say. It lives with the profile
 * loader so every profile load checks it; src/detector/profile.ts turns it into a scan and readout.
 */
import type { SchemaProblem } from '../util/validate.js';

export type DetectorBeam = 'parallel' | 'fan';
export type DetectorApodisation = 'ram-lak' | 'shepp-logan' | 'hann';

/** The section as written in JSON. */
export interface DetectorSectionJson {
  beam: DetectorBeam;
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
  apodisation?: DetectorApodisation;
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

/** Stored bits of one frame (views × channels readings) of a channel layout: q channels at keptBits, the rest native. */
export function detectorFrameBits(section: Pick<DetectorSectionJson, 'views' | 'channels'>, nativeBits: number, reducedChannels: number, keptBits: number): number {
  return section.views * ((section.channels - reducedChannels) * nativeBits + reducedChannels * keptBits);
}
