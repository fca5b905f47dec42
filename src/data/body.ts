/**
 * The patient's body and internal air in one CT slice, by a threshold rule (no model):
 * - tissue: pixels above `airThreshold` native counts (default −500 HU under the default HU window,
 *   huToCount(−500, nativeBits): between air, −1000 HU, and fat, −100 HU);
 * - body: the largest 4-connected tissue component with its holes filled (every pixel not reachable
 *   from the image border through non-body pixels, 4-connected), so the lungs inside count as body
 *   and the table or a stray component outside does not;
 * - internal air: body pixels at or below the threshold (lungs, airways, bowel gas): the lung rule
 *   when no lung masks are given.
 */
import { huToCount } from './hu.js';

/** The default air/tissue threshold of a `nativeBits` detector, in native counts: −500 HU. */
export function defaultAirThreshold(nativeBits: number): number {
  return huToCount(-500, nativeBits);
}

/** 4-connected components of `on` (row-major rows×cols): label per pixel (0 = off) and the size of each label (index = label). */
function components(on: Uint8Array, rows: number, cols: number): { label: Int32Array; sizes: number[] } {
  const label = new Int32Array(on.length);
  const sizes = [0];
  const stack: number[] = [];
  for (let start = 0; start < on.length; start++) {
    if (!on[start] || label[start]) continue;
    const id = sizes.length;
    let size = 0;
    label[start] = id;
    stack.push(start);
    while (stack.length) {
      const p = stack.pop()!;
      size++;
      const r = Math.floor(p / cols);
      const c = p % cols;
      const visit = (q: number) => {
        if (on[q] && !label[q]) {
          label[q] = id;
          stack.push(q);
        }
      };
      if (r > 0) visit(p - cols);
      if (r < rows - 1) visit(p + cols);
      if (c > 0) visit(p - 1);
      if (c < cols - 1) visit(p + 1);
    }
    sizes.push(size);
  }
  return { label, sizes };
}

/** Body mask of one slice: image row-major rows×cols in native counts → rows×cols 0/1 (see the module rule). */
export function bodyMask(image: ArrayLike<number>, rows: number, cols: number, airThreshold: number): Uint8Array {
  const n = rows * cols;
  if (image.length !== n) throw new RangeError(`image has ${image.length} values, expected ${rows}×${cols}`);
  const tissue = new Uint8Array(n);
  for (let i = 0; i < n; i++) tissue[i] = image[i]! > airThreshold ? 1 : 0;
  const { label, sizes } = components(tissue, rows, cols);
  let largest = 0;
  for (let id = 1; id < sizes.length; id++) if (sizes[id]! > sizes[largest]!) largest = id; // ties: the lower label
  const body = new Uint8Array(n);
  if (largest === 0) return body;
  for (let i = 0; i < n; i++) body[i] = label[i] === largest ? 1 : 0;
  // Hole filling: flood the outside from the border through non-body pixels; the rest is body.
  const outside = new Uint8Array(n);
  const stack: number[] = [];
  const seed = (p: number) => {
    if (!body[p] && !outside[p]) {
      outside[p] = 1;
      stack.push(p);
    }
  };
  for (let c = 0; c < cols; c++) {
    seed(c);
    seed((rows - 1) * cols + c);
  }
  for (let r = 0; r < rows; r++) {
    seed(r * cols);
    seed(r * cols + cols - 1);
  }
  while (stack.length) {
    const p = stack.pop()!;
    const r = Math.floor(p / cols);
    const c = p % cols;
    if (r > 0) seed(p - cols);
    if (r < rows - 1) seed(p + cols);
    if (c > 0) seed(p - 1);
    if (c < cols - 1) seed(p + 1);
  }
  for (let i = 0; i < n; i++) body[i] = outside[i] ? 0 : 1;
  return body;
}

/** Internal air of one slice (the lung rule without masks): body pixels at or below `airThreshold`; rows×cols 0/1. */
export function internalAirMask(image: ArrayLike<number>, body: Uint8Array, airThreshold: number): Uint8Array {
  if (image.length !== body.length) throw new RangeError(`image has ${image.length} values, body mask ${body.length}`);
  return Uint8Array.from(body, (b, i) => (b && image[i]! <= airThreshold ? 1 : 0));
}
