/**
 * Filtered back-projection (Kak & Slaney, "Principles of Computerized Tomographic Imaging", ch. 3):
 * - parallel beam: Q = τ·(p ∗ h) with the band-limited ramp h (Ram-Lak, their eq. 3.61), apodised;
 *   μ(x, y) = Δθ · Σ_v Q_v(x cos θ + y sin θ), halved for a 360° scan (every line read twice);
 * - fan beam, flat detector, 360°: weighted FBP for equally spaced collinear detectors (their §3.4.2)
 *   on the virtual detector through the isocentre (pitch τ = channelMm·D_so/D_sd):
 *   R'(s) = R(s)·D/√(D² + s²),  Q = ½·τ·(R' ∗ h),  μ = Δβ · Σ_v Q_v(s′)/U²,
 *   U = (D − r·e)/D,  s′ = D·(r·d)/(D − r·e),  D = D_so.
 * Back-projection is pixel-driven with linear interpolation between channels (weights computed on the
 * fly per view and image row, shared by a batch); outside the detector a reading counts as zero. Filtering is a linear convolution with a symmetric kernel of 2C − 1 taps
 * (spatial domain, exact: no circular wrap), so its matrix is symmetric and is its own transpose.
 * Every step has its transpose here, for the gradient of the tfjs op (src/detector/op.ts).
 */
import { checkGeometry, isoChannelMm, pixelX, pixelY, viewAngle, type ScanGeometry } from './geometry.js';

export type Apodisation = 'ram-lak' | 'shepp-logan' | 'hann';

export interface FbpPlan {
  geometry: ScanGeometry;
  apodisation: Apodisation;
  /** Filter taps h[n − (C−1)], n = 0..2C−2, including τ and the fan ½; applied as Σ_m h[n−m]·x[m]. */
  kernel: Float32Array;
  /** Per-channel weight applied before filtering [channels] (fan: D/√(D²+s²); parallel: 1). */
  preWeight: Float32Array;
  /** Per view: cos β, sin β. */
  cosView: Float64Array;
  sinView: Float64Array;
  /** Back-projection weight per view: Δθ (parallel 180°), Δθ/2 (parallel 360°), Δβ (fan, times 1/U² per pixel). */
  viewScale: number;
}

/**
 * The ramp filter's spatial taps for pitch τ (mm), apodised in frequency: taps [2C − 1], 1/mm² · mm.
 * Ram-Lak taps (τ·h: h[0] = 1/(4τ²), h[odd n] = −1/(nπτ)², h[even n] = 0) are turned into their DFT
 * on L ≥ 2C − 1 points, multiplied by the window W(f) (f ≤ f_N = 1/(2τ)): Shepp–Logan
 * sinc(f/(2f_N)), Hann ½(1 + cos(π f/f_N)), Ram-Lak 1, and transformed back (an even real sequence).
 */
export function rampKernel(channels: number, tau: number, apodisation: Apodisation): Float32Array {
  const half = channels - 1;
  let length = 1;
  while (length < 2 * channels - 1) length *= 2;
  const tapAt = (n: number): number => {
    if (n === 0) return 1 / (4 * tau);
    if (n % 2 === 0) return 0;
    return -1 / (n * n * Math.PI * Math.PI * tau);
  };
  // DFT of the even sequence tap[n], n in (−L/2, L/2]: real, H[k] = Σ tap[n] cos(2πkn/L).
  const freq = new Float64Array(length / 2 + 1);
  for (let k = 0; k <= length / 2; k++) {
    let sum = tapAt(0);
    for (let n = 1; n < length / 2; n++) sum += 2 * tapAt(n) * Math.cos((2 * Math.PI * k * n) / length);
    sum += tapAt(length / 2) * Math.cos(Math.PI * k);
    const ratio = k / (length / 2); // f / f_N
    const window =
      apodisation === 'ram-lak' ? 1
        : apodisation === 'hann' ? 0.5 * (1 + Math.cos(Math.PI * ratio))
          : k === 0 ? 1 : Math.sin((Math.PI * ratio) / 2) / ((Math.PI * ratio) / 2);
    freq[k] = sum * window;
  }
  const taps = new Float32Array(2 * channels - 1);
  for (let n = 0; n <= half; n++) {
    let sum = freq[0]! + freq[length / 2]! * Math.cos(Math.PI * n);
    for (let k = 1; k < length / 2; k++) sum += 2 * freq[k]! * Math.cos((2 * Math.PI * k * n) / length);
    taps[half + n] = taps[half - n] = sum / length;
  }
  return taps;
}

/** Precomputes the filter and the view angles of a geometry. */
export function makeFbpPlan(g: ScanGeometry, apodisation: Apodisation = 'shepp-logan'): FbpPlan {
  checkGeometry(g);
  if (g.channels < 2) throw new RangeError('FBP needs at least 2 channels');
  const tau = isoChannelMm(g);
  const fan = g.beam === 'fan';
  const D = g.sourceToIsoMm;
  const kernel = rampKernel(g.channels, tau, apodisation);
  if (fan) for (let i = 0; i < kernel.length; i++) kernel[i] = kernel[i]! / 2;
  const preWeight = new Float32Array(g.channels);
  for (let c = 0; c < g.channels; c++) {
    const s = (c - (g.channels - 1) / 2) * tau;
    preWeight[c] = fan ? D / Math.sqrt(D * D + s * s) : 1;
  }
  const cosView = new Float64Array(g.views);
  const sinView = new Float64Array(g.views);
  for (let v = 0; v < g.views; v++) (cosView[v] = Math.cos(viewAngle(g, v))), (sinView[v] = Math.sin(viewAngle(g, v)));
  const dTheta = ((g.coverageDeg * Math.PI) / 180) / g.views;
  const viewScale = fan ? dTheta : g.coverageDeg === 360 ? dTheta / 2 : dTheta;
  return { geometry: g, apodisation, kernel, preWeight, cosView, sinView, viewScale };
}

/**
 * The filter as a matrix M [channels × channels], row-major, so that a filtered view row is q = p · M
 * (M[m][n] = preWeight[m]·kernel[n − m + C − 1]); for a matrix product on a tfjs backend.
 */
export function filterMatrix(plan: FbpPlan): Float32Array {
  const C = plan.geometry.channels;
  const m = new Float32Array(C * C);
  for (let i = 0; i < C; i++) for (let n = 0; n < C; n++) m[i * C + n] = plan.preWeight[i]! * plan.kernel[n - i + C - 1]!;
  return m;
}

/**
 * The interpolation of view v for image row i: for each column j, the lower channel (low[j]) and the
 * weights of it and the next one (w0[j], w1[j]), back-projection scale included. Channels outside
 * the detector get weight 0 (low is kept in [0, C − 2] so both reads stay in range).
 */
function rowWeights(plan: FbpPlan, v: number, i: number, low: Int32Array, w0: Float32Array, w1: Float32Array): void {
  const g = plan.geometry;
  const fan = g.beam === 'fan';
  const D = g.sourceToIsoMm;
  const tau = isoChannelMm(g);
  const centre = (g.channels - 1) / 2;
  const ex = plan.cosView[v]!;
  const ey = plan.sinView[v]!;
  const y = pixelY(g, i);
  for (let j = 0; j < g.cols; j++) {
    const x = pixelX(g, j);
    let s = x * ex + y * ey;
    let scale = plan.viewScale;
    if (fan) {
      const along = D - s; // D − r·e
      s = (D * (-x * ey + y * ex)) / along;
      scale = (plan.viewScale * D * D) / (along * along);
    }
    const u = s / tau + centre;
    let c0 = Math.floor(u);
    const f = u - c0;
    let a = scale * (1 - f);
    let b = scale * f;
    if (c0 === -1) [c0, a, b] = [0, b, 0];
    else if (c0 === g.channels - 1) [c0, a, b] = [g.channels - 2, 0, a];
    else if (c0 < -1 || c0 > g.channels - 1) [c0, a, b] = [0, 0, 0];
    low[j] = c0;
    w0[j] = a;
    w1[j] = b;
  }
}

/**
 * Pixel-driven back-projection B of a batch: q [batch × views × channels] → μ [batch × rows × cols],
 * 1/mm. The weights are computed once per (view, row) and used for every image of the batch.
 */
export function backprojectBatch(plan: FbpPlan, q: Float32Array, batch: number): Float32Array {
  const { views, channels, rows, cols } = plan.geometry;
  const pixels = rows * cols;
  const sino = views * channels;
  const out = new Float32Array(batch * pixels);
  const low = new Int32Array(cols);
  const w0 = new Float32Array(cols);
  const w1 = new Float32Array(cols);
  for (let v = 0; v < views; v++) {
    for (let i = 0; i < rows; i++) {
      rowWeights(plan, v, i, low, w0, w1);
      for (let b = 0; b < batch; b++) {
        const qBase = b * sino + v * channels;
        const oBase = b * pixels + i * cols;
        for (let j = 0; j < cols; j++) {
          const c = qBase + low[j]!;
          out[oBase + j] += w0[j]! * q[c]! + w1[j]! * q[c + 1]!;
        }
      }
    }
  }
  return out;
}

/** Bᵀ of a batch: images [batch × rows × cols] → sinograms [batch × views × channels], the exact transpose of backprojectBatch. */
export function backprojectBatchTranspose(plan: FbpPlan, image: Float32Array, batch: number): Float32Array {
  const { views, channels, rows, cols } = plan.geometry;
  const pixels = rows * cols;
  const sino = views * channels;
  const out = new Float32Array(batch * sino);
  const low = new Int32Array(cols);
  const w0 = new Float32Array(cols);
  const w1 = new Float32Array(cols);
  for (let v = 0; v < views; v++) {
    for (let i = 0; i < rows; i++) {
      rowWeights(plan, v, i, low, w0, w1);
      for (let b = 0; b < batch; b++) {
        const qBase = b * sino + v * channels;
        const iBase = b * pixels + i * cols;
        for (let j = 0; j < cols; j++) {
          const c = qBase + low[j]!;
          const value = image[iBase + j]!;
          out[c] += w0[j]! * value;
          out[c + 1] += w1[j]! * value;
        }
      }
    }
  }
  return out;
}

/** Pre-weights and filters each view: p [views × channels] → q [views × channels]. Symmetric: see filterTranspose. */
export function filterSinogram(plan: FbpPlan, p: Float32Array, out = new Float32Array(p.length)): Float32Array {
  const C = plan.geometry.channels;
  const weighted = new Float32Array(C);
  for (let v = 0; v < p.length / C; v++) {
    for (let c = 0; c < C; c++) weighted[c] = p[v * C + c]! * plan.preWeight[c]!;
    convolveRow(plan.kernel, weighted, out, v * C);
  }
  return out;
}

/** Transpose of filterSinogram: q [views × channels] → [views × channels] (filter, then the same pre-weight). */
export function filterTranspose(plan: FbpPlan, q: Float32Array, out = new Float32Array(q.length)): Float32Array {
  const C = plan.geometry.channels;
  const row = new Float32Array(C);
  for (let v = 0; v < q.length / C; v++) {
    for (let c = 0; c < C; c++) row[c] = q[v * C + c]!;
    convolveRow(plan.kernel, row, out, v * C);
    for (let c = 0; c < C; c++) out[v * C + c] = out[v * C + c]! * plan.preWeight[c]!;
  }
  return out;
}

/** out[offset + n] = Σ_m kernel[n − m + C − 1]·x[m], n, m in 0..C−1. */
function convolveRow(kernel: Float32Array, x: Float32Array, out: Float32Array, offset: number): void {
  const C = x.length;
  for (let n = 0; n < C; n++) {
    let sum = 0;
    const base = n + C - 1;
    for (let m = 0; m < C; m++) sum += kernel[base - m]! * x[m]!;
    out[offset + n] = sum;
  }
}

/** Pixel-driven back-projection B: q [views × channels] → μ [rows × cols], 1/mm. */
export function backprojectPixels(plan: FbpPlan, q: Float32Array): Float32Array {
  return backprojectBatch(plan, q, 1);
}

/** Bᵀ: image [rows × cols] → sinogram [views × channels], the exact transpose of backprojectPixels. */
export function backprojectPixelsTranspose(plan: FbpPlan, image: Float32Array): Float32Array {
  return backprojectBatchTranspose(plan, image, 1);
}

/** FBP: line integrals p [views × channels], unitless → μ [rows × cols], 1/mm. */
export function fbp(plan: FbpPlan, p: Float32Array): Float32Array {
  return backprojectPixels(plan, filterSinogram(plan, p));
}

/** FBPᵀ: image-space [rows × cols] → sinogram-space [views × channels]. */
export function fbpTranspose(plan: FbpPlan, image: Float32Array): Float32Array {
  return filterTranspose(plan, backprojectPixelsTranspose(plan, image));
}
