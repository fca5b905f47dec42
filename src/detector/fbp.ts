/**
 * Filtered back-projection (Kak & Slaney, "Principles of Computerized Tomographic Imaging", ch. 3):
 * - parallel beam: Q = τ·(p ∗ h) with the band-limited ramp h (Ram-Lak, their eq. 3.61), apodised;
 *   μ(x, y) = Δθ · Σ_v Q_v(x cos θ + y sin θ), halved for a 360° scan (every line read twice);
 * - fan beam, flat detector, 360°: weighted FBP for equally spaced collinear detectors (their §3.4.2)
 *   on the virtual detector through the isocentre (pitch τ = channelMm·D_so/D_sd):
 *   R'(s) = R(s)·D/√(D² + s²),  Q = ½·τ·(R' ∗ h),  μ = Δβ · Σ_v Q_v(s′)/U²,
 *   U = (D − r·e)/D,  s′ = D·(r·d)/(D − r·e),  D = D_so.
 * Back-projection is pixel-driven with linear interpolation between channels; outside the detector
 * a reading counts as zero. Filtering is a linear convolution with a symmetric kernel of 2C − 1 taps
 * (spatial domain, exact: no circular wrap), so its matrix is symmetric and is its own transpose.
 * Every step has its transpose here, for the gradient of the tfjs op (src/detector/op.ts).
 */
import { isoChannelMm, pixelX, pixelY, viewAngle, checkGeometry, type ScanGeometry } from './geometry.js';

export type Apodisation = 'ram-lak' | 'shepp-logan' | 'hann';

export interface FbpPlan {
  geometry: ScanGeometry;
  apodisation: Apodisation;
  /** Filter taps h[n − (C−1)], n = 0..2C−2, including τ and the fan ½; applied as Σ_m h[n−m]·x[m]. */
  kernel: Float32Array;
  /** Per-channel weight applied before filtering [channels] (fan: D/√(D²+s²); parallel: 1). */
  preWeight: Float32Array;
  /** Back-projection table, [views × pixels] each: first channel index and the weights of it and the next. */
  lowChannel: Int32Array;
  lowWeight: Float32Array;
  highWeight: Float32Array;
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

/** Precomputes the filter and the back-projection table of a geometry (memory: 12 bytes × views × pixels). */
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
  const dTheta = ((g.coverageDeg * Math.PI) / 180) / g.views;
  const viewScale = fan ? dTheta : g.coverageDeg === 360 ? dTheta / 2 : dTheta;
  const pixels = g.rows * g.cols;
  const lowChannel = new Int32Array(g.views * pixels);
  const lowWeight = new Float32Array(g.views * pixels);
  const highWeight = new Float32Array(g.views * pixels);
  const centre = (g.channels - 1) / 2;
  for (let v = 0; v < g.views; v++) {
    const beta = viewAngle(g, v);
    const ex = Math.cos(beta);
    const ey = Math.sin(beta);
    for (let i = 0; i < g.rows; i++) {
      const y = pixelY(g, i);
      for (let j = 0; j < g.cols; j++) {
        const x = pixelX(g, j);
        let s = x * ex + y * ey;
        let scale = viewScale;
        if (fan) {
          const along = D - s; // D − r·e
          s = (D * (-x * ey + y * ex)) / along;
          scale = (viewScale * D * D) / (along * along);
        }
        const u = s / tau + centre;
        let c0 = Math.floor(u);
        const f = u - c0;
        let w0 = scale * (1 - f);
        let w1 = scale * f;
        if (c0 === -1) [c0, w0, w1] = [0, w1, 0];
        else if (c0 === g.channels - 1) [c0, w0, w1] = [g.channels - 2, 0, w0];
        else if (c0 < -1 || c0 > g.channels - 1) [c0, w0, w1] = [0, 0, 0];
        const at = v * pixels + i * g.cols + j;
        lowChannel[at] = c0;
        lowWeight[at] = w0;
        highWeight[at] = w1;
      }
    }
  }
  return { geometry: g, apodisation, kernel, preWeight, lowChannel, lowWeight, highWeight };
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
export function backprojectPixels(plan: FbpPlan, q: Float32Array, out = new Float32Array(plan.geometry.rows * plan.geometry.cols)): Float32Array {
  const { views, channels } = plan.geometry;
  const pixels = out.length;
  out.fill(0);
  for (let v = 0; v < views; v++) {
    const base = v * pixels;
    const row = v * channels;
    for (let p = 0; p < pixels; p++) {
      const c = row + plan.lowChannel[base + p]!;
      out[p] += plan.lowWeight[base + p]! * q[c]! + plan.highWeight[base + p]! * q[c + 1]!;
    }
  }
  return out;
}

/** Bᵀ: image [rows × cols] → sinogram [views × channels], the exact transpose of backprojectPixels. */
export function backprojectPixelsTranspose(plan: FbpPlan, image: Float32Array, out = new Float32Array(plan.geometry.views * plan.geometry.channels)): Float32Array {
  const { views, channels } = plan.geometry;
  const pixels = image.length;
  out.fill(0);
  for (let v = 0; v < views; v++) {
    const base = v * pixels;
    const row = v * channels;
    for (let p = 0; p < pixels; p++) {
      const c = row + plan.lowChannel[base + p]!;
      const value = image[p]!;
      out[c] += plan.lowWeight[base + p]! * value;
      out[c + 1] += plan.highWeight[base + p]! * value;
    }
  }
  return out;
}

/** FBP: line integrals p [views × channels], unitless → μ [rows × cols], 1/mm. */
export function fbp(plan: FbpPlan, p: Float32Array): Float32Array {
  return backprojectPixels(plan, filterSinogram(plan, p));
}

/** FBPᵀ: image-space [rows × cols] → sinogram-space [views × channels]. */
export function fbpTranspose(plan: FbpPlan, image: Float32Array): Float32Array {
  return filterTranspose(plan, backprojectPixelsTranspose(plan, image));
}
