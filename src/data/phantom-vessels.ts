/** The pulmonary vessels and bronchi of one phantom slice. */
import type { Rng } from '../util/rng.js';
import type { VolumeAnatomy } from './phantom-anatomy.js';
import { polarRadius, segmentDistance, type Canvas } from './phantom-raster.js';

/**
 * Pulmonary vessels as branching trees from each hilum (bright, in-plane segments), vessel
 * cross-sections (dots, smaller toward the periphery) and bronchi (dark lumen, thin wall)
 * beside the larger vessels. Writes coverages into the three alpha maps, clipped to the lungs.
 */
export function drawVessels(
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
