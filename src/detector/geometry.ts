/**
 * Scan geometry of a single-row CT detector (rows = 1): where each reading's ray runs through the
 * image grid. Lengths in mm, angles in radians. Conventions shared by the projector and the FBP:
 *
 * - image pixel (row i, col j) has its centre at x = (j − (cols−1)/2)·Δ, y = ((rows−1)/2 − i)·Δ
 *   (row 0 at the top, y up), Δ = pixelMm; rotation centre = image centre;
 * - view v has angle β_v = v·coverage/views; e = (cos β, sin β), d = (−sin β, cos β);
 * - parallel: channel c reads the line {r : r·e = t_c}, t_c = (c − (C−1)/2)·channelMm;
 * - fan (flat detector, equally spaced channels): source at S = D_so·e, channel c at
 *   (D_so − D_sd)·e + u_c·d with u_c = (c − (C−1)/2)·channelMm; the ray runs from S to that point.
 *   A fan scan must cover 360° (no short-scan Parker weights).
 */
export type Beam = 'parallel' | 'fan';

export interface ScanGeometry {
  beam: Beam;
  /** Detector channels per view (one ADC each, the layout unit). */
  channels: number;
  views: number;
  /** Angular range the views cover: 180 or 360 degrees. */
  coverageDeg: 180 | 360;
  /** Channel pitch in mm at the detector (fan) or at the isocentre (parallel). */
  channelMm: number;
  /** Fan only: source to isocentre and source to detector, mm. */
  sourceToIsoMm: number;
  sourceToDetectorMm: number;
  /** Reconstruction grid: rows × cols pixels of pixelMm. */
  rows: number;
  cols: number;
  pixelMm: number;
}

/** One ray: a point on it and its unit direction, mm. */
export interface Ray {
  px: number;
  py: number;
  dx: number;
  dy: number;
}

export function viewAngle(g: ScanGeometry, view: number): number {
  return (view * g.coverageDeg * Math.PI) / 180 / g.views;
}

/** Channel offset from the detector centre, mm (at the detector for fan, at the isocentre for parallel). */
export function channelOffset(g: ScanGeometry, channel: number): number {
  return (channel - (g.channels - 1) / 2) * g.channelMm;
}

/** Channel pitch referred to the isocentre (the virtual detector through the rotation centre), mm. */
export function isoChannelMm(g: ScanGeometry): number {
  return g.beam === 'fan' ? (g.channelMm * g.sourceToIsoMm) / g.sourceToDetectorMm : g.channelMm;
}

export function pixelX(g: ScanGeometry, col: number): number {
  return (col - (g.cols - 1) / 2) * g.pixelMm;
}

export function pixelY(g: ScanGeometry, row: number): number {
  return ((g.rows - 1) / 2 - row) * g.pixelMm;
}

/** The ray of reading (view, channel). */
export function rayOf(g: ScanGeometry, view: number, channel: number): Ray {
  const beta = viewAngle(g, view);
  const ex = Math.cos(beta);
  const ey = Math.sin(beta);
  const u = channelOffset(g, channel);
  if (g.beam === 'parallel') return { px: u * ex, py: u * ey, dx: -ey, dy: ex };
  const sx = g.sourceToIsoMm * ex;
  const sy = g.sourceToIsoMm * ey;
  const back = g.sourceToIsoMm - g.sourceToDetectorMm;
  const tx = back * ex - u * ey - sx;
  const ty = back * ey + u * ex - sy;
  const len = Math.hypot(tx, ty);
  return { px: sx, py: sy, dx: tx / len, dy: ty / len };
}

/**
 * Channels a geometry needs so that every ray of the image's circumscribed circle is read:
 * parallel ⌈diagonal / pitch⌉ (+1 for the centre), fan the same at the isocentre magnified by D_sd/D_so.
 */
export function channelsToCover(rows: number, cols: number, pixelMm: number, channelMmAtIso: number): number {
  const diagonal = Math.hypot(rows, cols) * pixelMm;
  return Math.ceil(diagonal / channelMmAtIso) + 1;
}

/** Throws a RangeError naming the first geometry field out of range (programming errors; profiles are checked by the loader). */
export function checkGeometry(g: ScanGeometry): void {
  const positive: Array<[string, number]> = [
    ['channels', g.channels], ['views', g.views], ['channelMm', g.channelMm],
    ['rows', g.rows], ['cols', g.cols], ['pixelMm', g.pixelMm],
  ];
  for (const [name, v] of positive) if (!(v > 0)) throw new RangeError(`${name} must be > 0, got ${v}`);
  if (g.beam === 'fan') {
    if (g.coverageDeg !== 360) throw new RangeError('a fan-beam scan must cover 360° (no short-scan weights)');
    if (!(g.sourceToDetectorMm > g.sourceToIsoMm && g.sourceToIsoMm > 0))
      throw new RangeError(`need 0 < sourceToIsoMm < sourceToDetectorMm, got ${g.sourceToIsoMm}, ${g.sourceToDetectorMm}`);
    const halfImage = (Math.hypot(g.rows, g.cols) * g.pixelMm) / 2;
    if (halfImage >= g.sourceToIsoMm) throw new RangeError(`the image (radius ${halfImage} mm) reaches the source`);
  }
}
