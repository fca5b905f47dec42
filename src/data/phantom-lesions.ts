/**
 * The lesions of one phantom slice: which of a patient's 3-D lesions a cut at z passes through,
 * where they lie in the plane, and their per-pixel ground-glass and consolidation fields.
 */
import type { Rng } from '../util/rng.js';
import type { Lesion3d, VolumeAnatomy } from './phantom-anatomy.js';
import { fbm } from './phantom-noise.js';
import { polarRadius, type Canvas, type Ellipse } from './phantom-raster.js';

/** A lesion as cut by one slice: its 3-D source and its in-plane ellipse (normalised units). */
export interface PlacedLesion {
  l: Lesion3d;
  e: Ellipse;
}

/**
 * Lesions of the cut at z: the 3-D lesions this z passes through; a slice that must show a lesion
 * and cuts none takes the nearest one in z (at half its extent), and when no lesion centre then
 * falls inside a lung (size×size coverage `lungAlpha`) one ground-glass patch drawn from `rng` is
 * added. With `withLesions` false: none.
 */
export function placeLesions(
  A: VolumeAnatomy, z: number, size: number, lungScale: number, lungAlpha: Float32Array, rng: Rng, withLesions: boolean,
): PlacedLesion[] {
  const cuts: { l: Lesion3d; scale: number }[] = [];
  if (withLesions) {
    for (const l of A.lesions) {
      const dz = (z - l.zc) / l.rz;
      if (Math.abs(dz) < 1) cuts.push({ l, scale: Math.sqrt(1 - dz * dz) });
    }
    if (cuts.length === 0 && A.lesions.length > 0) {
      const nearest = A.lesions.reduce((p, c) => (Math.abs(c.zc - z) < Math.abs(p.zc - z) ? c : p));
      cuts.push({ l: nearest, scale: Math.sqrt(0.75) });
    }
    for (const c of cuts) c.scale = Math.max(c.scale, 0.35);
  }
  const placed: PlacedLesion[] = cuts.map(({ l, scale }) => {
    const lung = A.lungs[l.side];
    const rEdge = polarRadius(lung, l.theta, lungScale);
    const cx = lung.cx + Math.cos(l.theta) * rEdge * l.rho;
    const cy = lung.cy + Math.sin(l.theta) * rEdge * l.rho;
    // Pleural-based lesions lie along the wall: long axis tangential.
    return { l, e: { cx, cy, a: l.a * scale, b: l.b * scale, rot: l.theta + Math.PI / 2 + l.rot } as Ellipse };
  });
  if (withLesions) {
    const centreInLung = placed.some(({ e }) => {
      const x = Math.min(size - 1, Math.max(0, Math.floor(((e.cx + 1) / 2) * size)));
      const y = Math.min(size - 1, Math.max(0, Math.floor(((e.cy + 1) / 2) * size)));
      return lungAlpha[y * size + x]! > 0.5;
    });
    if (!centreInLung) {
      // Guarantee a visible lesion: a posterior-lateral ground-glass patch inside a lung.
      const side: 0 | 1 = rng.next() < 0.5 ? 0 : 1;
      const lung = A.lungs[side];
      const theta = Math.PI / 2 + ((side === 0 ? Math.PI : 0) - Math.PI / 2) * 0.5;
      const rEdge = polarRadius(lung, theta, lungScale);
      const r = rng.uniform(0.06, 0.1);
      const l: Lesion3d = { ...A.lesions[0]!, side, theta, rho: 0.7, a: r, b: r * 0.8, rot: 0, kind: 'ggo', noiseSeed: rng.int(0x7fffffff) };
      placed.push({ l, e: { cx: lung.cx + Math.cos(theta) * rEdge * 0.7, cy: lung.cy + Math.sin(theta) * rEdge * 0.7, a: l.a, b: l.b, rot: theta + Math.PI / 2 } });
    }
  }
  return placed;
}

/** Per-pixel lesion maps of one slice, each size×size: the mask (0/1) and two (coverage, HU) layers. */
export interface LesionFields {
  mask: Uint8Array;
  ggoAlpha: Float32Array;
  ggoValue: Float32Array;
  consAlpha: Float32Array;
  consValue: Float32Array;
}

/**
 * Lesion fields: f > 0 inside an irregular blob (ellipse plus boundary noise); `opacity` is
 * a soft rim so the visible edge is fuzzy like real ground glass. The mask is f > 0.08, inside a lung.
 */
export function lesionFields(cv: Canvas, placed: readonly PlacedLesion[], lungAlpha: Float32Array): LesionFields {
  const n = cv.size * cv.size;
  const lesionMask = new Uint8Array(n);
  const ggoAlpha = new Float32Array(n);
  const ggoValue = new Float32Array(n);
  const consAlpha = new Float32Array(n);
  const consValue = new Float32Array(n);
  for (const { l, e } of placed) {
    const r = Math.max(e.a, e.b) * 1.5 + cv.px;
    const c = Math.cos(e.rot);
    const s = Math.sin(e.rot);
    cv.box(e.cx, e.cy, r, r, (i, u, v) => {
      if (lungAlpha[i]! <= 0) return;
      const du = u - e.cx;
      const dv = v - e.cy;
      const x = (du * c + dv * s) / e.a;
      const y = (-du * s + dv * c) / e.b;
      const f = 1 - Math.sqrt(x * x + y * y) + 0.35 * fbm(u, v, 9, l.noiseSeed);
      if (f <= -0.05) return;
      const opacity = f >= 0.3 ? 1 : f <= -0.05 ? 0 : (f + 0.05) / 0.35;
      if (f > 0.08 && lungAlpha[i]! > 0.5) lesionMask[i] = 1;
      // Ground glass: patchy texture, low contrast; consolidation: dense core.
      const texture = fbm(u, v, 22, l.noiseSeed + 7);
      if (l.kind !== 'consolidation') {
        const a = opacity * (0.75 + 0.25 * texture);
        if (a > ggoAlpha[i]!) {
          ggoAlpha[i] = a;
          ggoValue[i] = l.ggoHu + 70 * texture;
        }
      }
      const core = l.kind === 'consolidation' ? opacity : l.kind === 'mixed' ? Math.min(1, Math.max(0, (f - 0.35) / 0.15)) : 0;
      if (core > consAlpha[i]!) {
        consAlpha[i] = core;
        consValue[i] = l.consHu + 25 * texture;
      }
    });
  }
  return { mask: lesionMask, ggoAlpha, ggoValue, consAlpha, consValue };
}
