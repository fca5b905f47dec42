/**
 * One synthetic patient of the phantom: body, lungs, heart, spine, ribs and a few 3-D lesions,
 * drawn once from a seed in normalised coordinates (u, v) ∈ [−1, 1]² (u to the image right, the
 * patient's left; v down, posterior). Its slices (phantom-render.ts) are cuts through it at
 * craniocaudal positions z ∈ [0, 1].
 */
import type { Rng } from '../util/rng.js';
import type { Ellipse, PolarShape } from './phantom-raster.js';

export type LesionKind = 'ggo' | 'consolidation' | 'mixed';

export interface Lesion3d {
  /** 0 = the patient's right lung (image left), 1 = left lung. */
  side: 0 | 1;
  /** Direction from the lung centre (image angle atan2(v, u)) and radial fraction of the lung edge. */
  theta: number;
  rho: number;
  /** In-plane half-axes at the lesion's widest cut (normalised units) and extra rotation. */
  a: number;
  b: number;
  rot: number;
  /** Craniocaudal centre and half-extent in z. */
  zc: number;
  rz: number;
  kind: LesionKind;
  /** Mean HU of the ground-glass part, and of the consolidated part. */
  ggoHu: number;
  consHu: number;
  noiseSeed: number;
}

/** Everything a synthetic patient shares across its slices. */
export interface VolumeAnatomy {
  body: PolarShape;
  /** Fat and muscle layer thickness as fractions of the body radius. */
  fat: number;
  muscle: number;
  lungs: [PolarShape, PolarShape];
  mediastinumHalfWidth: number;
  heart: Ellipse;
  aorta: Ellipse;
  spineCy: number;
  spineR: number;
  ribAngles: number[];
  lungBaseHu: number;
  lesions: Lesion3d[];
  textureSeed: number;
}


/** Draws one synthetic patient. */
export function drawVolumeAnatomy(rng: Rng): VolumeAnatomy {
  const harmonics = (n: number, amp: number) =>
    Array.from({ length: n }, (_, i) => ({ k: i + 2, c: rng.uniform(-amp, amp) / (i + 1), phase: rng.uniform(0, 2 * Math.PI) }));
  const bodyA = rng.uniform(0.84, 0.93);
  const bodyB = rng.uniform(0.6, 0.7);
  const body: PolarShape = { cx: rng.uniform(-0.02, 0.02), cy: rng.uniform(0.02, 0.08), a: bodyA, b: bodyB, harmonics: harmonics(3, 0.03) };
  const fat = rng.uniform(0.03, 0.09);
  const muscle = rng.uniform(0.05, 0.08);
  const inner = 1 - fat - muscle;
  const lungs = [-1, 1].map((s) => {
    // Generous outlines: the thoracic cavity and the mediastinum clip them to a lung shape.
    const a = rng.uniform(0.44, 0.5) * bodyA * inner;
    return {
      cx: body.cx + s * (bodyA * inner - a + rng.uniform(0.0, 0.04)),
      cy: body.cy + rng.uniform(-0.03, 0.02),
      a,
      b: rng.uniform(0.9, 1.0) * bodyB * inner,
      harmonics: harmonics(4, 0.07),
    };
  }) as [PolarShape, PolarShape];
  const spineR = rng.uniform(0.085, 0.105);
  const heartA = rng.uniform(0.24, 0.3);
  const heart: Ellipse = {
    cx: body.cx + rng.uniform(0.06, 0.14),
    cy: body.cy - rng.uniform(0.12, 0.2),
    a: heartA,
    b: heartA * rng.uniform(0.68, 0.8),
    rot: rng.uniform(-0.6, -0.3),
  };
  const spineCy = body.cy + bodyB * inner - spineR * rng.uniform(1.1, 1.4);
  const aorta: Ellipse = { cx: body.cx + rng.uniform(0.1, 0.14), cy: spineCy - spineR * 0.9, a: 0.055, b: 0.055, rot: 0 };
  const ribAngles: number[] = [];
  for (const side of [-1, 1]) {
    const count = 5 + rng.int(3);
    for (let i = 0; i < count; i++) {
      // Ribs sit along the lateral and posterior wall (image angles measured from +u, v down).
      const t = (i + rng.uniform(0.2, 0.8)) / count;
      const ang = side > 0 ? -0.9 + t * 2.3 : Math.PI + 0.9 - t * 2.3;
      ribAngles.push(ang);
    }
  }
  const lesionCount = 1 + rng.int(5);
  const bilateral = rng.next() < 0.6;
  const firstSide: 0 | 1 = rng.next() < 0.5 ? 0 : 1;
  const lesions: Lesion3d[] = [];
  for (let i = 0; i < lesionCount; i++) {
    const side: 0 | 1 = bilateral && i % 2 === 1 ? ((1 - firstSide) as 0 | 1) : firstSide;
    // Mostly peripheral and posterior: between straight posterior (π/2) and lateral.
    const lateral = side === 0 ? Math.PI : 0;
    const theta = rng.next() < 0.8 ? Math.PI / 2 + (lateral - Math.PI / 2) * rng.uniform(-0.3, 1.1) : rng.uniform(-Math.PI, Math.PI);
    const r = rng.uniform(0.07, 0.22);
    const pick = rng.next();
    const kind: LesionKind = pick < 0.65 ? 'ggo' : pick < 0.85 ? 'mixed' : 'consolidation';
    lesions.push({
      side,
      theta,
      rho: rng.uniform(0.55, 0.92),
      a: r * rng.uniform(1.0, 1.6),
      b: r * rng.uniform(0.6, 1.0),
      rot: rng.uniform(-0.4, 0.4),
      zc: rng.next(),
      rz: rng.uniform(0.2, 0.6),
      kind,
      ggoHu: rng.uniform(-700, -350),
      consHu: rng.uniform(-100, 40),
      noiseSeed: rng.int(0x7fffffff),
    });
  }
  return {
    body,
    fat,
    muscle,
    lungs,
    mediastinumHalfWidth: rng.uniform(0.09, 0.12),
    heart,
    aorta,
    spineCy,
    spineR,
    ribAngles,
    lungBaseHu: rng.uniform(-870, -830),
    lesions,
    textureSeed: rng.int(0x7fffffff),
  };
}
