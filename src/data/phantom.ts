/**
 * Synthetic axial chest CT slices with exact COVID-like lesion masks: the embedded default data
 * of ctquant. Pure JS typed arrays, deterministic from a seed, any size from 32 to 512.
 *
 * Geometry lives in normalised coordinates (u, v) ∈ [−1, 1]², u to the image right (the patient's
 * left, radiological convention), v down (posterior), so one seed gives the same anatomy at every
 * size. Each synthetic patient ("volume") draws body, lungs, heart, spine and a few 3-D lesions
 * once; its slices are cuts at different craniocaudal positions z ∈ [0, 1] through that patient.
 * Images are rendered in HU with partial-volume edges, then mapped to native counts by
 * huImageToCounts after adding Gaussian readout noise (see hu.ts for the window).
 */
import { Rng } from '../util/rng.js';
import type { CtDataset, CtSlice } from './types.js';
import { DEFAULT_HU_WINDOW, checkDetector, huImageToCounts, type HuWindow } from './hu.js';

export const MIN_PHANTOM_SIZE = 32;
export const MAX_PHANTOM_SIZE = 512;

export interface PhantomOptions {
  /** Number of slices. */
  n: number;
  /** Image side in pixels, 32..512. */
  size: number;
  seed: number;
  /** Native ADC bit depth of the stored counts (1..16). */
  nativeBits: number;
  /** Share of slices drawn without any lesion (default 0.2). */
  lesionFreeShare?: number;
  /** Slices per synthetic patient; they share anatomy and lesions (default 4). */
  slicesPerVolume?: number;
  /** HU → counts window (default [−1024, 1024] HU). */
  window?: HuWindow;
  /** Readout noise, standard deviation in HU before digitisation (default 12 HU). */
  noiseHu?: number;
}

interface Ellipse {
  cx: number;
  cy: number;
  a: number;
  b: number;
  /** Rotation in radians. */
  rot: number;
}

/** A closed shape r ≤ R(θ) around a centre: an ellipse radius times 1 + Σ c_k cos(kθ + φ_k). */
interface PolarShape {
  cx: number;
  cy: number;
  a: number;
  b: number;
  harmonics: { k: number; c: number; phase: number }[];
}

type LesionKind = 'ggo' | 'consolidation' | 'mixed';

interface Lesion3d {
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

// ---------------------------------------------------------------------------------------------
// Smooth value noise on an integer lattice hashed from a seed (no stored grid, any domain).

function hash2(i: number, j: number, seed: number): number {
  let h = Math.imul(i, 0x27d4eb2d) ^ Math.imul(j, 0x165667b1) ^ seed;
  h = Math.imul(h ^ (h >>> 15), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  h ^= h >>> 16;
  return ((h >>> 0) / 4294967296) * 2 - 1;
}

/** Value noise in [−1, 1] at (x, y) in lattice units, smoothstep-interpolated. */
function valueNoise(x: number, y: number, seed: number): number {
  const i = Math.floor(x);
  const j = Math.floor(y);
  const fx = x - i;
  const fy = y - j;
  const sx = fx * fx * (3 - 2 * fx);
  const sy = fy * fy * (3 - 2 * fy);
  const a = hash2(i, j, seed);
  const b = hash2(i + 1, j, seed);
  const c = hash2(i, j + 1, seed);
  const d = hash2(i + 1, j + 1, seed);
  return a + (b - a) * sx + (c - a) * sy + (a - b - c + d) * sx * sy;
}

/** Two-octave noise, roughly in [−1, 1]; `freq` cycles per normalised unit. */
function fbm(u: number, v: number, freq: number, seed: number): number {
  return 0.67 * valueNoise(u * freq, v * freq, seed) + 0.33 * valueNoise(u * freq * 2.1 + 17.3, v * freq * 2.1 - 5.1, seed ^ 0x5bd1e995);
}

// ---------------------------------------------------------------------------------------------
// A tiny rasteriser: shapes cover pixels with a soft (partial-volume) edge about one pixel wide.

class Canvas {
  readonly hu: Float32Array;
  /** Normalised size of one pixel. */
  readonly px: number;
  constructor(readonly size: number) {
    this.hu = new Float32Array(size * size).fill(-1000);
    this.px = 2 / size;
  }

  u(x: number): number {
    return ((x + 0.5) / this.size) * 2 - 1;
  }

  /** Calls fn(index, u, v) for every pixel centre in the box [cx ± rx] × [cy ± ry] (normalised). */
  box(cx: number, cy: number, rx: number, ry: number, fn: (i: number, u: number, v: number) => void): void {
    const n = this.size;
    const x0 = Math.max(0, Math.floor(((cx - rx + 1) / 2) * n - 1));
    const x1 = Math.min(n - 1, Math.ceil(((cx + rx + 1) / 2) * n + 1));
    const y0 = Math.max(0, Math.floor(((cy - ry + 1) / 2) * n - 1));
    const y1 = Math.min(n - 1, Math.ceil(((cy + ry + 1) / 2) * n + 1));
    for (let y = y0; y <= y1; y++) {
      const v = this.u(y);
      for (let x = x0; x <= x1; x++) fn(y * n + x, this.u(x), v);
    }
  }

  /** Coverage in [0, 1] of a signed distance d (negative inside). */
  cover(d: number): number {
    const t = 0.5 - d / this.px;
    return t <= 0 ? 0 : t >= 1 ? 1 : t;
  }

  blend(i: number, value: number, alpha: number): void {
    if (alpha > 0) this.hu[i] = this.hu[i]! + (value - this.hu[i]!) * alpha;
  }
}

/** An ellipse grown by `grow` with its rotation precomputed, for per-pixel loops. */
function ellipseTester(e: Ellipse, grow: number): (u: number, v: number) => number {
  const c = Math.cos(e.rot);
  const s = Math.sin(e.rot);
  const ia = 1 / (e.a + grow);
  const ib = 1 / (e.b + grow);
  const m = Math.min(e.a + grow, e.b + grow);
  return (u, v) => {
    const du = u - e.cx;
    const dv = v - e.cy;
    const x = (du * c + dv * s) * ia;
    const y = (-du * s + dv * c) * ib;
    return (Math.sqrt(x * x + y * y) - 1) * m;
  };
}

function polarRadius(p: PolarShape, theta: number, scale: number): number {
  const ct = Math.cos(theta);
  const st = Math.sin(theta);
  let r = (p.a * p.b) / Math.sqrt(p.b * p.b * ct * ct + p.a * p.a * st * st);
  let f = 1;
  for (const h of p.harmonics) f += h.c * Math.cos(h.k * theta + h.phase);
  r *= f * scale;
  return r;
}

const POLAR_BINS = 512;

/** R(θ) of a scaled polar shape sampled at POLAR_BINS angles, for fast per-pixel lookups. */
interface PolarTable {
  cx: number;
  cy: number;
  radius: Float32Array;
}

function polarTable(p: PolarShape, scale: number): PolarTable {
  const radius = new Float32Array(POLAR_BINS + 1);
  for (let k = 0; k <= POLAR_BINS; k++) radius[k] = polarRadius(p, -Math.PI + (2 * Math.PI * k) / POLAR_BINS, scale);
  return { cx: p.cx, cy: p.cy, radius };
}

/** Signed distance (approximately, radial) to a polar shape; negative inside. */
function polarDistance(t: PolarTable, u: number, v: number): number {
  const du = u - t.cx;
  const dv = v - t.cy;
  const f = ((Math.atan2(dv, du) + Math.PI) / (2 * Math.PI)) * POLAR_BINS;
  const k = f | 0;
  const w = f - k;
  const r = t.radius[k]! * (1 - w) + t.radius[k + 1 > POLAR_BINS ? POLAR_BINS : k + 1]! * w;
  return Math.sqrt(du * du + dv * dv) - r;
}

function paintEllipse(cv: Canvas, e: Ellipse, hu: number): void {
  const r = Math.max(e.a, e.b) + cv.px;
  const dist = ellipseTester(e, 0);
  cv.box(e.cx, e.cy, r, r, (i, u, v) => cv.blend(i, hu, cv.cover(dist(u, v))));
}

function paintPolar(cv: Canvas, p: PolarShape, scale: number, hu: (u: number, v: number) => number): void {
  const r = Math.max(p.a, p.b) * 1.4 * scale + cv.px;
  const table = polarTable(p, scale);
  cv.box(p.cx, p.cy, r, r, (i, u, v) => {
    const alpha = cv.cover(polarDistance(table, u, v));
    if (alpha > 0) cv.blend(i, hu(u, v), alpha);
  });
}

/** Distance from (u, v) to the segment p→q. */
function segmentDistance(u: number, v: number, px: number, py: number, qx: number, qy: number): number {
  const dx = qx - px;
  const dy = qy - py;
  const len2 = dx * dx + dy * dy;
  let t = len2 > 0 ? ((u - px) * dx + (v - py) * dy) / len2 : 0;
  t = t < 0 ? 0 : t > 1 ? 1 : t;
  const ex = u - px - t * dx;
  const ey = v - py - t * dy;
  return Math.sqrt(ex * ex + ey * ey);
}

// ---------------------------------------------------------------------------------------------

export interface RenderedPhantom {
  /** H×W Hounsfield units before readout noise. */
  hu: Float32Array;
  /** H×W lesion mask (0/1). */
  mask: Uint8Array;
  /** H×W lung mask (0/1), for checks. */
  lung: Uint8Array;
}

/**
 * Renders one axial cut at craniocaudal position z ∈ [0, 1] (0 = upper chest, 1 = near the
 * diaphragm) of a synthetic patient: size×size HU image, lesion mask and lung mask.
 * With `withLesions` false the slice has no lesion; with true it has at least one.
 */
export function renderPhantomHu(anatomy: VolumeAnatomy, z: number, size: number, rng: Rng, withLesions: boolean): RenderedPhantom {
  const cv = new Canvas(size);
  const n = size * size;
  const A = anatomy;
  const tex = A.textureSeed;
  // Lungs widen toward the base; the heart appears and grows below the upper chest.
  const lungScale = 0.82 + 0.22 * Math.sin(Math.PI * (0.25 + 0.6 * z));
  const heartScale = 0.55 + 0.55 * z;
  const heart: Ellipse = { ...A.heart, a: A.heart.a * heartScale, b: A.heart.b * heartScale, cy: A.heart.cy + 0.05 * (1 - z) };

  // Body: subcutaneous fat, muscle, mediastinal soft tissue.
  paintPolar(cv, A.body, 1, (u, v) => -100 + 8 * fbm(u, v, 6, tex));
  paintPolar(cv, A.body, 1 - A.fat, (u, v) => 45 + 6 * fbm(u, v, 9, tex + 1));
  const inner = 1 - A.fat - A.muscle;
  paintPolar(cv, A.body, inner, (u, v) => -40 + 35 * fbm(u, v, 5, tex + 2));

  // Heart (with a thin pericardial fat rim), descending aorta, oesophagus, airways.
  paintEllipse(cv, { ...heart, a: heart.a + 0.02, b: heart.b + 0.02 }, -90);
  paintEllipse(cv, heart, 40);
  paintEllipse(cv, A.aorta, 45);
  paintEllipse(cv, { cx: A.body.cx + 0.02, cy: A.aorta.cy + 0.02, a: 0.025, b: 0.02, rot: 0 }, 35);
  const airwayY = A.spineCy - A.spineR * 2.2 - 0.04;
  if (z < 0.35) {
    paintEllipse(cv, { cx: A.body.cx, cy: airwayY, a: 0.055, b: 0.05, rot: 0 }, 60);
    paintEllipse(cv, { cx: A.body.cx, cy: airwayY, a: 0.045, b: 0.04, rot: 0 }, -1000);
  } else if (z < 0.6) {
    for (const s of [-1, 1]) {
      const e = { cx: A.body.cx + s * 0.07, cy: airwayY + 0.01, a: 0.035, b: 0.03, rot: 0 };
      paintEllipse(cv, { ...e, a: e.a + 0.008, b: e.b + 0.008 }, 50);
      paintEllipse(cv, e, -1000);
    }
  }

  // Lungs: inside their outline, outside the mediastinum, heart and spine.
  const lungAlpha = new Float32Array(n);
  const spine: Ellipse = { cx: A.body.cx, cy: A.spineCy, a: A.spineR, b: A.spineR * 0.9, rot: 0 };
  const cavity = polarTable(A.body, inner - 0.02);
  const heartDist = ellipseTester(heart, 0.035);
  const spineDist = ellipseTester(spine, 0.07);
  const aortaDist = ellipseTester(A.aorta, 0.02);
  for (const lung of A.lungs) {
    const r = Math.max(lung.a, lung.b) * 1.4 * lungScale + cv.px;
    const outline = polarTable(lung, lungScale);
    cv.box(lung.cx, lung.cy, r, r, (i, u, v) => {
      // The mediastinum: narrow in front of the heart, wider behind it (curved, not a strip).
      const t = Math.min(1, Math.max(0, (v - heart.cy + 0.1) / 0.25));
      const halfWidth = A.mediastinumHalfWidth * (0.4 + 0.45 * t * t * (3 - 2 * t)) * (1 + 0.15 * Math.sin(7 * v + tex));
      let alpha = cv.cover(halfWidth - Math.abs(u - A.body.cx));
      if (alpha <= 0) return;
      alpha *= cv.cover(polarDistance(outline, u, v));
      if (alpha <= 0) return;
      alpha *= cv.cover(polarDistance(cavity, u, v));
      if (alpha <= 0) return;
      alpha *= cv.cover(-heartDist(u, v)) * cv.cover(-spineDist(u, v)) * cv.cover(-aortaDist(u, v));
      if (alpha > lungAlpha[i]!) lungAlpha[i] = alpha;
    });
  }
  const lungTop = Math.min(A.lungs[0].cy, A.lungs[1].cy) - Math.max(A.lungs[0].b, A.lungs[1].b);
  const lungSpan = 2 * Math.max(A.lungs[0].b, A.lungs[1].b);
  const parenchyma = new Float32Array(n);
  for (let y = 0; y < size; y++) {
    const v = cv.u(y);
    // Dependent density: posterior lung is denser (patient supine).
    const gradient = 45 * ((v - lungTop) / lungSpan - 0.5);
    for (let x = 0; x < size; x++) {
      const i = y * size + x;
      if (lungAlpha[i]! > 0) parenchyma[i] = A.lungBaseHu + gradient + 18 * fbm(cv.u(x), v, 7, tex + 3);
    }
  }

  // Lesions of this cut: the 3-D lesions this z passes through; a slice that must show a lesion
  // and cuts none takes the nearest one in z (at half its extent).
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
  const placed = cuts.map(({ l, scale }) => {
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

  // Lesion fields: f > 0 inside an irregular blob (ellipse plus boundary noise); `opacity` is
  // a soft rim so the visible edge is fuzzy like real ground glass. The mask is f > 0.08.
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

  // Compose the lung: parenchyma, ground glass, then vessels and bronchi on top (they stay
  // visible through ground glass), then consolidation (hides vessels, keeps airway lumens).
  const lungHu = parenchyma;
  for (let i = 0; i < n; i++) {
    if (ggoAlpha[i]! > 0) lungHu[i] = lungHu[i]! + (ggoValue[i]! - lungHu[i]!) * ggoAlpha[i]!;
  }
  const vesselAlpha = new Float32Array(n);
  const lumenAlpha = new Float32Array(n);
  const wallAlpha = new Float32Array(n);
  drawVessels(cv, A, lungScale, rng, lungAlpha, vesselAlpha, lumenAlpha, wallAlpha);
  for (let i = 0; i < n; i++) {
    if (lungAlpha[i]! <= 0) continue;
    let h = lungHu[i]!;
    h += (40 - h) * vesselAlpha[i]!;
    h += (-80 - h) * wallAlpha[i]!;
    h += (consValue[i]! - h) * consAlpha[i]! * (1 - lumenAlpha[i]!);
    h += (-960 - h) * lumenAlpha[i]!;
    cv.blend(i, h, lungAlpha[i]!);
  }

  // Bones last: vertebra (cortex and marrow), spinal canal, spinous process, ribs, sternum.
  paintEllipse(cv, { ...spine, a: spine.a + 0.012, b: spine.b + 0.012 }, 900);
  paintEllipse(cv, spine, 260);
  paintEllipse(cv, { cx: spine.cx, cy: spine.cy + spine.b + 0.05, a: 0.045, b: 0.04, rot: 0 }, 20);
  paintEllipse(cv, { cx: spine.cx, cy: spine.cy + spine.b + 0.13, a: 0.022, b: 0.05, rot: 0 }, 650);
  for (const s of [-1, 1]) paintEllipse(cv, { cx: spine.cx + s * 0.11, cy: spine.cy + spine.b + 0.05, a: 0.07, b: 0.022, rot: s * 0.35 }, 600);
  const ribScale = inner + A.muscle * 0.35;
  for (const ang of A.ribAngles) {
    const r = polarRadius(A.body, ang, ribScale);
    const e: Ellipse = { cx: A.body.cx + Math.cos(ang) * r, cy: A.body.cy + Math.sin(ang) * r, a: 0.045, b: 0.022, rot: ang + Math.PI / 2 };
    paintEllipse(cv, e, 1000);
    paintEllipse(cv, { ...e, a: e.a - 0.012, b: e.b - 0.01 }, 300);
  }
  const sternumR = polarRadius(A.body, -Math.PI / 2, inner + A.muscle * 0.3);
  paintEllipse(cv, { cx: A.body.cx, cy: A.body.cy - sternumR, a: 0.07, b: 0.03, rot: 0 }, 500);

  const lungMask = new Uint8Array(n);
  for (let i = 0; i < n; i++) lungMask[i] = lungAlpha[i]! > 0.5 ? 1 : 0;
  return { hu: cv.hu, mask: lesionMask, lung: lungMask };
}

/**
 * Pulmonary vessels as branching trees from each hilum (bright, in-plane segments), vessel
 * cross-sections (dots, smaller toward the periphery) and bronchi (dark lumen, thin wall)
 * beside the larger vessels. Writes coverages into the three alpha maps, clipped to the lungs.
 */
function drawVessels(
  cv: Canvas,
  A: VolumeAnatomy,
  lungScale: number,
  rng: Rng,
  lungAlpha: Float32Array,
  vesselAlpha: Float32Array,
  lumenAlpha: Float32Array,
  wallAlpha: Float32Array,
): void {
  const put = (map: Float32Array, i: number, a: number) => {
    if (lungAlpha[i]! > 0 && a > map[i]!) map[i] = a;
  };
  A.lungs.forEach((lung, side) => {
    const s = side === 0 ? -1 : 1;
    const hx = A.body.cx + s * (A.mediastinumHalfWidth + 0.06);
    const hy = lung.cy - lung.b * 0.05;
    const reach = Math.max(lung.a, lung.b) * lungScale;
    const branch = (x: number, y: number, dir: number, width: number, depth: number) => {
      const len = reach * rng.uniform(0.1, 0.2);
      const strength = rng.uniform(0.55, 1);
      const qx = x + Math.cos(dir) * len;
      const qy = y + Math.sin(dir) * len;
      const w = Math.max(width, cv.px * 0.3);
      cv.box((x + qx) / 2, (y + qy) / 2, Math.abs(qx - x) / 2 + w + cv.px, Math.abs(qy - y) / 2 + w + cv.px, (i, u, v) => {
        put(vesselAlpha, i, strength * cv.cover(segmentDistance(u, v, x, y, qx, qy) - w));
      });
      if (depth > 0) {
        const spread = rng.uniform(0.3, 0.7);
        branch(qx, qy, dir - spread, width * 0.72, depth - 1);
        if (rng.next() < 0.8) branch(qx, qy, dir + spread * rng.uniform(0.6, 1.2), width * 0.65, depth - 1);
      }
    };
    const roots = 3 + rng.int(2);
    for (let k = 0; k < roots; k++) {
      // Fan out from the hilum toward the lateral side.
      const dir = (s > 0 ? 0 : Math.PI) + s * rng.uniform(-1.4, 1.4);
      branch(hx, hy, dir, rng.uniform(0.006, 0.01), 2 + rng.int(2));
    }
    const dots = 25 + rng.int(20);
    for (let k = 0; k < dots; k++) {
      const theta = rng.uniform(-Math.PI, Math.PI);
      const rho = Math.sqrt(rng.next()) * 0.95;
      const rEdge = polarRadius(lung, theta, lungScale);
      const cx = lung.cx + Math.cos(theta) * rEdge * rho;
      const cy = lung.cy + Math.sin(theta) * rEdge * rho;
      const dist = Math.hypot(cx - hx, cy - hy) / reach;
      const r = Math.max(0.003, 0.012 * (1 - 0.8 * Math.min(1, dist))) * rng.uniform(0.7, 1.2);
      cv.box(cx, cy, r + cv.px, r + cv.px, (i, u, v) => put(vesselAlpha, i, cv.cover(Math.hypot(u - cx, v - cy) - r)));
      // Bronchus beside the larger, central vessels.
      if (dist < 0.55 && rng.next() < 0.5) {
        const bx = cx + (r * 2.2 + 0.006) * Math.cos(theta + 1.2);
        const by = cy + (r * 2.2 + 0.006) * Math.sin(theta + 1.2);
        const lumen = r * 0.9;
        const wall = Math.max(0.005, r * 0.35);
        cv.box(bx, by, lumen + wall + cv.px, lumen + wall + cv.px, (i, u, v) => {
          const d = Math.hypot(u - bx, v - by);
          put(wallAlpha, i, cv.cover(d - lumen - wall));
          put(lumenAlpha, i, cv.cover(d - lumen));
        });
      }
    }
  });
}

/**
 * One synthetic slice at native depth: size×size counts in [0, 2^nativeBits − 1] (integers),
 * its lesion mask, and the noise-free HU image it was digitised from.
 */
export function generatePhantomSlice(opts: {
  size: number;
  seed: number;
  nativeBits: number;
  /** Craniocaudal position 0..1 (default 0.5). */
  z?: number;
  lesionFree?: boolean;
  window?: HuWindow;
  noiseHu?: number;
}): CtSlice & { hu: Float32Array } {
  checkPhantomArgs(opts.size, opts.nativeBits, opts.window);
  const rng = new Rng(opts.seed);
  const anatomy = drawVolumeAnatomy(rng.fork(0));
  const sliceRng = rng.fork(1);
  const r = renderPhantomHu(anatomy, opts.z ?? 0.5, opts.size, sliceRng, !opts.lesionFree);
  const image = digitise(r.hu, opts.nativeBits, opts.window ?? DEFAULT_HU_WINDOW, opts.noiseHu ?? 12, sliceRng);
  return { image, mask: r.mask, volumeId: `synth-${opts.seed}`, name: `synth-${opts.seed}`, hu: r.hu };
}

/** HU image + Gaussian readout noise (noiseHu std) → native counts. */
function digitise(hu: Float32Array, nativeBits: number, window: HuWindow, noiseHu: number, rng: Rng): Float32Array {
  if (noiseHu <= 0) return huImageToCounts(hu, nativeBits, window);
  const noisy = new Float32Array(hu.length);
  for (let i = 0; i < hu.length; i++) noisy[i] = hu[i]! + noiseHu * rng.normal();
  return huImageToCounts(noisy, nativeBits, window);
}

function checkPhantomArgs(size: number, nativeBits: number, window?: HuWindow): void {
  if (!Number.isInteger(size) || size < MIN_PHANTOM_SIZE || size > MAX_PHANTOM_SIZE) {
    throw new RangeError(`phantom size must be an integer ${MIN_PHANTOM_SIZE}..${MAX_PHANTOM_SIZE}, got ${size}`);
  }
  const bad = checkDetector(nativeBits, window);
  if (bad) throw new RangeError(bad);
}

/**
 * A synthetic dataset of `n` slices (size×size native counts), grouped into patients of
 * `slicesPerVolume` slices (volume ids `synth-v000`, …). Slice k of a volume is the cut at
 * z = (k + 0.5) / slicesPerVolume. Each slice is lesion-free with probability lesionFreeShare.
 */
export function generatePhantoms(opts: PhantomOptions): CtDataset {
  checkPhantomArgs(opts.size, opts.nativeBits, opts.window);
  if (!Number.isInteger(opts.n) || opts.n < 0) throw new RangeError(`phantom count must be a non-negative integer, got ${opts.n}`);
  const perVolume = opts.slicesPerVolume ?? 4;
  if (!Number.isInteger(perVolume) || perVolume < 1) throw new RangeError(`slicesPerVolume must be a positive integer, got ${perVolume}`);
  const freeShare = opts.lesionFreeShare ?? 0.2;
  if (!(freeShare >= 0 && freeShare <= 1)) throw new RangeError(`lesionFreeShare must be in [0, 1], got ${freeShare}`);
  const window = opts.window ?? DEFAULT_HU_WINDOW;
  const noiseHu = opts.noiseHu ?? 12;
  const master = new Rng(opts.seed);
  const slices: CtSlice[] = [];
  const volumes = Math.ceil(opts.n / perVolume);
  const digits = Math.max(3, String(volumes - 1).length);
  for (let vol = 0; vol < volumes; vol++) {
    const volRng = master.fork(vol);
    const anatomy = drawVolumeAnatomy(volRng);
    const volumeId = `synth-v${String(vol).padStart(digits, '0')}`;
    for (let k = 0; k < perVolume && slices.length < opts.n; k++) {
      const sliceRng = volRng.fork(1000 + k);
      const lesionFree = sliceRng.next() < freeShare;
      const z = (k + 0.5) / perVolume;
      const r = renderPhantomHu(anatomy, z, opts.size, sliceRng, !lesionFree);
      const image = digitise(r.hu, opts.nativeBits, window, noiseHu, sliceRng);
      slices.push({ image, mask: r.mask, volumeId, name: `${volumeId}-s${k}` });
    }
  }
  return {
    height: opts.size,
    width: opts.size,
    nativeBits: opts.nativeBits,
    slices,
    source: `synthetic phantoms seed ${opts.seed}`,
  };
}
