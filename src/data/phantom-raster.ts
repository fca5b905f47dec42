/**
 * A tiny rasteriser for the synthetic phantom: shapes in normalised coordinates (u, v) ∈ [−1, 1]²
 * cover pixels with a soft (partial-volume) edge about one pixel wide.
 */

export interface Ellipse {
  cx: number;
  cy: number;
  a: number;
  b: number;
  /** Rotation in radians. */
  rot: number;
}

/** A closed shape r ≤ R(θ) around a centre: an ellipse radius times 1 + Σ c_k cos(kθ + φ_k). */
export interface PolarShape {
  cx: number;
  cy: number;
  a: number;
  b: number;
  harmonics: { k: number; c: number; phase: number }[];
}

/** A size×size HU image (air, −1000 HU, where nothing is painted) and its pixel ↔ (u, v) mapping. */
export class Canvas {
  readonly hu: Float32Array;
  /** Normalised size of one pixel. */
  readonly px: number;
  constructor(readonly size: number) {
    this.hu = new Float32Array(size * size).fill(-1000);
    this.px = 2 / size;
  }

  /** Normalised coordinate of pixel column (or row) x's centre. */
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

  /** Mixes `value` (HU) into pixel i with coverage `alpha` ∈ [0, 1]. */
  blend(i: number, value: number, alpha: number): void {
    if (alpha > 0) this.hu[i] = this.hu[i]! + (value - this.hu[i]!) * alpha;
  }
}

/** An ellipse grown by `grow` with its rotation precomputed, for per-pixel loops. */
export function ellipseTester(e: Ellipse, grow: number): (u: number, v: number) => number {
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

/** R(θ) of a polar shape scaled by `scale` (normalised units). */
export function polarRadius(p: PolarShape, theta: number, scale: number): number {
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
export interface PolarTable {
  cx: number;
  cy: number;
  radius: Float32Array;
}

export function polarTable(p: PolarShape, scale: number): PolarTable {
  const radius = new Float32Array(POLAR_BINS + 1);
  for (let k = 0; k <= POLAR_BINS; k++) radius[k] = polarRadius(p, -Math.PI + (2 * Math.PI * k) / POLAR_BINS, scale);
  return { cx: p.cx, cy: p.cy, radius };
}

/** Signed distance (approximately, radial) to a polar shape; negative inside. */
export function polarDistance(t: PolarTable, u: number, v: number): number {
  const du = u - t.cx;
  const dv = v - t.cy;
  const f = ((Math.atan2(dv, du) + Math.PI) / (2 * Math.PI)) * POLAR_BINS;
  const k = f | 0;
  const w = f - k;
  const r = t.radius[k]! * (1 - w) + t.radius[k + 1 > POLAR_BINS ? POLAR_BINS : k + 1]! * w;
  return Math.sqrt(du * du + dv * dv) - r;
}

/** Paints an ellipse of constant `hu` with a soft edge. */
export function paintEllipse(cv: Canvas, e: Ellipse, hu: number): void {
  const r = Math.max(e.a, e.b) + cv.px;
  const dist = ellipseTester(e, 0);
  cv.box(e.cx, e.cy, r, r, (i, u, v) => cv.blend(i, hu, cv.cover(dist(u, v))));
}

/** Paints a polar shape scaled by `scale`, its HU given per point by `hu(u, v)`. */
export function paintPolar(cv: Canvas, p: PolarShape, scale: number, hu: (u: number, v: number) => number): void {
  const r = Math.max(p.a, p.b) * 1.4 * scale + cv.px;
  const table = polarTable(p, scale);
  cv.box(p.cx, p.cy, r, r, (i, u, v) => {
    const alpha = cv.cover(polarDistance(table, u, v));
    if (alpha > 0) cv.blend(i, hu(u, v), alpha);
  });
}

/** Distance from (u, v) to the segment p→q. */
export function segmentDistance(u: number, v: number, px: number, py: number, qx: number, qy: number): number {
  const dx = qx - px;
  const dy = qy - py;
  const len2 = dx * dx + dy * dy;
  let t = len2 > 0 ? ((u - px) * dx + (v - py) * dy) / len2 : 0;
  t = t < 0 ? 0 : t > 1 ? 1 : t;
  const ex = u - px - t * dx;
  const ey = v - py - t * dy;
  return Math.sqrt(ex * ex + ey * ey);
}
