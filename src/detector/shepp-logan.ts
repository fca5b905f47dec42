/**
 * The Shepp–Logan head phantom (Shepp & Logan 1974, IEEE Trans. Nucl. Sci. 21:21, original contrasts),
 * read as μ/μ_water: skull 2.0 (+1000 HU), brain 1.02 (+20 HU), ventricles 1.0 (0 HU), small
 * lesions 1.03 (+30 HU), air 0 (−1000 HU). Ellipse centres and semi-axes in units of the image half-width.
 */
export interface Ellipse {
  x0: number;
  y0: number;
  /** Semi-axes along the ellipse's own x and y before rotation. */
  a: number;
  b: number;
  /** Rotation, radians counter-clockwise. */
  phi: number;
  /** Added value inside (μ/μ_water). */
  value: number;
}

const deg = Math.PI / 180;
export const SHEPP_LOGAN: readonly Ellipse[] = [
  { x0: 0, y0: 0, a: 0.69, b: 0.92, phi: 0, value: 2 },
  { x0: 0, y0: -0.0184, a: 0.6624, b: 0.874, phi: 0, value: -0.98 },
  { x0: 0.22, y0: 0, a: 0.11, b: 0.31, phi: -18 * deg, value: -0.02 },
  { x0: -0.22, y0: 0, a: 0.16, b: 0.41, phi: 18 * deg, value: -0.02 },
  { x0: 0, y0: 0.35, a: 0.21, b: 0.25, phi: 0, value: 0.01 },
  { x0: 0, y0: 0.1, a: 0.046, b: 0.046, phi: 0, value: 0.01 },
  { x0: 0, y0: -0.1, a: 0.046, b: 0.046, phi: 0, value: 0.01 },
  { x0: -0.08, y0: -0.605, a: 0.046, b: 0.023, phi: 0, value: 0.01 },
  { x0: 0, y0: -0.605, a: 0.023, b: 0.023, phi: 0, value: 0.01 },
  { x0: 0.06, y0: -0.605, a: 0.023, b: 0.046, phi: 0, value: 0.01 },
];

function inside(e: Ellipse, x: number, y: number): boolean {
  const c = Math.cos(e.phi);
  const s = Math.sin(e.phi);
  const u = (x - e.x0) * c + (y - e.y0) * s;
  const w = -(x - e.x0) * s + (y - e.y0) * c;
  return (u / e.a) ** 2 + (w / e.b) ** 2 <= 1;
}

/**
 * Rasterises ellipses (coordinates in units of halfWidthMm) on a size × size grid of pixelMm, row 0 at
 * the top, y up (the geometry's convention), each pixel the mean of oversample² point samples
 * (partial volume). Returns [size × size] in the ellipses' value units.
 */
export function rasterEllipses(ellipses: readonly Ellipse[], size: number, pixelMm: number, halfWidthMm: number, oversample = 4): Float32Array {
  const out = new Float32Array(size * size);
  const centre = (size - 1) / 2;
  for (let i = 0; i < size; i++) {
    for (let j = 0; j < size; j++) {
      let sum = 0;
      for (let si = 0; si < oversample; si++) {
        for (let sj = 0; sj < oversample; sj++) {
          const x = ((j - centre + (sj + 0.5) / oversample - 0.5) * pixelMm) / halfWidthMm;
          const y = ((centre - i - (si + 0.5) / oversample + 0.5) * pixelMm) / halfWidthMm;
          for (const e of ellipses) if (inside(e, x, y)) sum += e.value;
        }
      }
      out[i * size + j] = sum / (oversample * oversample);
    }
  }
  return out;
}

/** The Shepp–Logan phantom in HU [size × size], filling the grid (half-width = size·pixelMm/2). */
export function sheppLoganHu(size: number, pixelMm = 1, oversample = 4): Float32Array {
  const rel = rasterEllipses(SHEPP_LOGAN, size, pixelMm, (size * pixelMm) / 2, oversample);
  return rel.map((v) => 1000 * (v - 1));
}

/**
 * Length (mm) of the chord a ray cuts through an ellipse with centre (x0, y0), semi-axes a, b and
 * rotation phi, all in mm; the ray through (px, py) with unit direction (dx, dy); 0 when it misses.
 */
export function ellipseChordMm(e: Ellipse, px: number, py: number, dx: number, dy: number): number {
  const c = Math.cos(e.phi);
  const s = Math.sin(e.phi);
  const ux = ((px - e.x0) * c + (py - e.y0) * s) / e.a;
  const uy = (-(px - e.x0) * s + (py - e.y0) * c) / e.b;
  const vx = (dx * c + dy * s) / e.a;
  const vy = (-dx * s + dy * c) / e.b;
  const qa = vx * vx + vy * vy;
  const qb = 2 * (ux * vx + uy * vy);
  const qc = ux * ux + uy * uy - 1;
  const disc = qb * qb - 4 * qa * qc;
  return disc <= 0 ? 0 : Math.sqrt(disc) / qa;
}
