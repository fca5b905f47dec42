/**
 * Renders one axial cut through a synthetic patient (phantom-anatomy.ts) in HU with partial-volume
 * edges: soft tissue, heart and airways, lungs with texture, lesions and vessels, then bones.
 */
import type { Rng } from '../util/rng.js';
import type { VolumeAnatomy } from './phantom-anatomy.js';
import { lesionFields, placeLesions } from './phantom-lesions.js';
import { fbm } from './phantom-noise.js';
import { Canvas, ellipseTester, paintEllipse, paintPolar, polarDistance, polarRadius, polarTable, type Ellipse } from './phantom-raster.js';
import { drawVessels } from './phantom-vessels.js';

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

  const placed = placeLesions(A, z, size, lungScale, lungAlpha, rng, withLesions);
  const { mask: lesionMask, ggoAlpha, ggoValue, consAlpha, consValue } = lesionFields(cv, placed, lungAlpha);

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
