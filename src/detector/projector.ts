/**
 * Ray-driven projector after Joseph (1982, "An improved algorithm for reprojecting rays through
 * pixel images", IEEE TMI 1:192): a ray is sampled once per image column (or row, whichever axis it
 * runs closer to), linearly interpolated between the two nearest pixel centres across it, and each
 * sample weighted by the ray length per column, Δ/|cos φ|. Outside the grid the image is zero.
 * `project` is A, `backprojectAdjoint` is exactly Aᵀ (same weights, scattered instead of gathered).
 */
import { checkGeometry, rayOf, type Ray, type ScanGeometry } from './geometry.js';

/** Calls visit(pixelIndex, weight_mm) for each pixel the ray touches (Joseph weights, row-major index). */
function traceRay(g: ScanGeometry, ray: Ray, visit: (pixel: number, weight: number) => void): void {
  const { rows, cols, pixelMm } = g;
  const cx = (cols - 1) / 2;
  const cy = (rows - 1) / 2;
  if (Math.abs(ray.dx) >= Math.abs(ray.dy)) {
    const step = pixelMm / Math.abs(ray.dx);
    for (let j = 0; j < cols; j++) {
      const x = (j - cx) * pixelMm;
      const y = ray.py + ((x - ray.px) / ray.dx) * ray.dy;
      const r = cy - y / pixelMm; // fractional row index
      const i0 = Math.floor(r);
      const f = r - i0;
      if (i0 >= 0 && i0 < rows) visit(i0 * cols + j, (1 - f) * step);
      if (i0 + 1 >= 0 && i0 + 1 < rows) visit((i0 + 1) * cols + j, f * step);
    }
  } else {
    const step = pixelMm / Math.abs(ray.dy);
    for (let i = 0; i < rows; i++) {
      const y = (cy - i) * pixelMm;
      const x = ray.px + ((y - ray.py) / ray.dy) * ray.dx;
      const c = x / pixelMm + cx; // fractional column index
      const j0 = Math.floor(c);
      const f = c - j0;
      if (j0 >= 0 && j0 < cols) visit(i * cols + j0, (1 - f) * step);
      if (j0 + 1 >= 0 && j0 + 1 < cols) visit(i * cols + j0 + 1, f * step);
    }
  }
}

/** A: mu [rows × cols] 1/mm, row-major → line integrals p [views × channels], unitless (mm · 1/mm). */
export function project(g: ScanGeometry, mu: Float32Array): Float32Array {
  checkGeometry(g);
  if (mu.length !== g.rows * g.cols) throw new RangeError(`image has ${mu.length} pixels, geometry ${g.rows}×${g.cols}`);
  const p = new Float32Array(g.views * g.channels);
  for (let v = 0; v < g.views; v++) {
    for (let c = 0; c < g.channels; c++) {
      let sum = 0;
      traceRay(g, rayOf(g, v, c), (pixel, w) => (sum += w * mu[pixel]!));
      p[v * g.channels + c] = sum;
    }
  }
  return p;
}

/** Aᵀ: sinogram y [views × channels] → image [rows × cols], the exact transpose of `project` (mm per unit of y). */
export function backprojectAdjoint(g: ScanGeometry, y: Float32Array): Float32Array {
  checkGeometry(g);
  if (y.length !== g.views * g.channels) throw new RangeError(`sinogram has ${y.length} readings, geometry ${g.views}×${g.channels}`);
  const acc = new Float64Array(g.rows * g.cols);
  for (let v = 0; v < g.views; v++) {
    for (let c = 0; c < g.channels; c++) {
      const value = y[v * g.channels + c]!;
      if (value === 0) continue;
      traceRay(g, rayOf(g, v, c), (pixel, w) => (acc[pixel] += w * value));
    }
  }
  return Float32Array.from(acc);
}
