/**
 * The detector-space outputs of an experiment, in <out>/detector/: the learned channel layouts
 * (.ctql of 1 row × channels, and a CSV per channel), bits per channel across the detector (SVG and
 * PNG), sinogram and reconstruction previews of the designs at the same stored bits (PNG), the HU
 * error of each design's reconstruction on the test set, the flux per channel against which channels
 * the layouts reduce (CSV, JSON), and the storage per frame (JSON).
 */
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { ExperimentConfig } from '../config/experiment-config.js';
import { countToHu } from '../data/hu.js';
import { encodeGreyPng } from '../data/png.js';
import type { CtDataset } from '../data/types.js';
import { EVALUATION_EPOCH, type DetectorReadout } from '../detector/input-stage.js';
import { channelOffset } from '../detector/geometry.js';
import { logNormalise, defaultFloorCounts } from '../detector/readout.js';
import { detectorReadoutFor } from '../experiments/run-point.js';
import { reducedMode } from '../experiments/plan.js';
import { layoutFromMask, writeLayoutFile } from '../layout-io/layout-file.js';
import { detectorStorageReport } from '../profile/storage.js';
import type { DetectorProfile } from '../profile/types.js';
import { bitsPerChannelSvg, channelLayoutCsv, greyLevels, panelRowSvg, type ChannelPositions, type DetectorFigure, type DetectorReportPart, type PanelImage } from '../report/detector.js';
import { svgToPng } from '../report/svg-plot.js';
import type { RunResult } from '../runs/types.js';
import { makeFolder, writeFileAtomic } from '../util/atomic.js';

/** Reconstructions are shown in a lung window: level −600 HU, width 1500 HU. */
const PREVIEW_HU: [number, number] = [-1350, 150];

/** A design to compare: its name and which channels it reduces (0/1 per channel) to how many bits. */
interface NamedDesign {
  name: string;
  layout: Uint8Array;
  keptBits: number;
  /** The budget it is compared at (0 native, 1 every channel at the lowest mode). */
  budget: number;
}

function positionsOf(readout: DetectorReadout): ChannelPositions {
  const g = readout.geometry;
  const offsetMm = Array.from({ length: g.channels }, (_, c) => channelOffset(g, c));
  return g.beam === 'fan'
    ? { offsetMm, fanAngleDeg: offsetMm.map((u) => (Math.atan(u / g.sourceToDetectorMm) * 180) / Math.PI) }
    : { offsetMm };
}

/** HU reconstruction [rows × cols] and line integrals [views × channels] of analog readings of one image under a design. */
function readDesign(readout: DetectorReadout, analog: Float32Array, design: NamedDesign): { p: Float32Array; hu: Float32Array } {
  const adc = readout.options.space.adc;
  const C = readout.channels;
  const nativeReadings = readout.readings(analog, 1, { kind: 'native' }).native;
  const reduced = readout.readings(analog, 1, { kind: 'all', keptBits: design.keptBits }).reduced;
  const mixed = Float32Array.from(nativeReadings, (v, i) => (design.layout[i % C] ? reduced[i]! : v));
  const p = logNormalise(mixed, readout.options.space.i0, defaultFloorCounts(adc));
  const hu = tf.tidy(() => readout.reconstruction.reconstructLineIntegrals(tf.tensor3d(p, [1, readout.geometry.views, C])).dataSync() as Float32Array);
  return { p, hu: Float32Array.from(hu) };
}

async function pngBase64(grey: Uint8Array, width: number, height: number): Promise<string> {
  return (await encodeGreyPng(grey, width, height)).toString('base64');
}

/** The files written under detector/ and, when there were any, what report.html and manifest.json show of them. */
export interface DetectorOutputs {
  files: string[];
  report?: DetectorReportPart;
}

/**
 * Writes the detector outputs for the runs of a detector-space experiment (none for image space);
 * returns the files written and the report's part. `test` is the test split the runs were evaluated on.
 */
export async function writeDetectorOutputs(
  outDir: string,
  runs: readonly RunResult[],
  profile: DetectorProfile,
  config: ExperimentConfig,
  test: CtDataset,
): Promise<DetectorOutputs> {
  const readout = detectorReadoutFor(profile, config, test);
  if (!readout || test.slices.length === 0) return { files: [] };
  const dir = join(outDir, 'detector');
  makeFolder(dir);
  const files: string[] = [];
  const descriptions: Record<string, string> = {};
  const figures: DetectorFigure[] = [];
  // Manifest paths use forward slashes whatever the platform.
  const write = (name: string, data: string | Uint8Array, description: string) => {
    writeFileAtomic(join(dir, name), data);
    files.push(join('detector', name));
    descriptions[`detector/${name}`] = description;
  };
  const figure = (name: string, png: Uint8Array, caption: string) => {
    write(name, png, caption);
    figures.push({ file: `detector/${name}`, png, caption });
  };
  const C = readout.channels;
  const native = profile.nativeBits;
  const keptBits = reducedMode(profile);
  const positions = positionsOf(readout);
  const learned = runs.filter((r) => r.setup === 'learned' && r.hardwareLayout?.length === C).sort((a, b) => a.seed - b.seed || (a.budget ?? 0) - (b.budget ?? 0));

  // Layout files and the per-channel CSV of every learned run.
  for (const r of learned) {
    const layout = Uint8Array.from(r.hardwareLayout!);
    writeLayoutFile(join(dir, `channel-layout-${r.id}.ctql`), layoutFromMask(layout, 1, C, native, r.keptBits ?? keptBits));
    files.push(join('detector', `channel-layout-${r.id}.ctql`));
    descriptions[`detector/channel-layout-${r.id}.ctql`] = `compact channel ADC layout of run ${r.id}: 1 row × ${C} channels, one ADC per channel used at every view (docs/layout-format.md)`;
    write(`channel-layout-${r.id}.csv`, channelLayoutCsv(positions, Array.from(layout, (m) => (m ? (r.keptBits ?? keptBits) : native)), r.probabilityMap),
      `per channel of run ${r.id}: offset, fan angle, ADC bits and learned reduce probability`);
  }
  if (learned.length) {
    const svg = bitsPerChannelSvg(
      positions,
      learned.map((r) => ({ id: r.id, group: `budget ${r.budget}`, bits: r.hardwareLayout!.map((m) => (m ? (r.keptBits ?? keptBits) : native)), ...(r.probabilityMap ? { probability: r.probabilityMap } : {}) })),
      native,
      keptBits,
      `${C} channels × ${readout.geometry.views} views, ${readout.geometry.beam} beam; exactly round(b·C) channels reduced per layout`,
    );
    const caption = `ADC bits per detector channel across the detector (top) and the learned probability of putting each channel on the ${keptBits}-bit mode (bottom), ` +
      `mean over seeds per budget; ${C} channels × ${readout.geometry.views} views, ${native}-bit native ADCs.`;
    write('bits-per-channel.svg', svg, caption);
    figure('bits-per-channel.png', await svgToPng(svg), caption);
  }

  // Flux per channel over the test set (noise-free expected counts): which channels the layouts reduce.
  const { views: viewCount } = readout.geometry;
  const meanCounts = new Float64Array(C);
  const minCounts = new Float64Array(C).fill(Infinity);
  for (const s of test.slices) {
    const expected = readout.expectedOf(s.image);
    for (let i = 0; i < expected.length; i++) {
      const c = i % C;
      meanCounts[c] += expected[i]! / (viewCount * test.slices.length);
      minCounts[c] = Math.min(minCounts[c]!, expected[i]!);
    }
  }
  const i0 = readout.options.space.i0;
  // A channel "in the body's shadow" loses more than 10 % of I0 on some view of some test image.
  const shadow = Array.from(minCounts, (m) => m < 0.9 * i0);
  const reducedShare = Array.from({ length: C }, (_, c) => (learned.length ? learned.filter((r) => r.hardwareLayout![c] === 1).length / learned.length : NaN));
  const fluxLines = ['channel,offset_mm,mean_counts,min_counts,in_body_shadow,share_of_learned_layouts_reducing'];
  for (let c = 0; c < C; c++)
    fluxLines.push(`${c},${positions.offsetMm[c]!.toFixed(3)},${meanCounts[c]!.toFixed(1)},${minCounts[c]!.toFixed(1)},${shadow[c] ? 1 : 0},${Number.isNaN(reducedShare[c]!) ? '' : reducedShare[c]!.toFixed(3)}`);
  write('channel-flux.csv', `${fluxLines.join('\n')}\n`, 'per channel: mean and minimum noise-free expected counts over the test set, whether it lies in the body shadow, and the share of learned layouts that reduce it');
  const perRun = learned.map((r) => {
    const reduced = r.hardwareLayout!.map((m, c) => ({ m, c })).filter((x) => x.m === 1).map((x) => x.c);
    const kept = r.hardwareLayout!.map((m, c) => ({ m, c })).filter((x) => x.m === 0).map((x) => x.c);
    const mean = (cs: number[], v: Float64Array) => (cs.length ? cs.reduce((a, c) => a + v[c]!, 0) / cs.length : NaN);
    return {
      id: r.id,
      budget: r.budget,
      reducedChannels: reduced.length,
      reducedInBodyShadow: reduced.filter((c) => shadow[c]).length,
      channelsInBodyShadow: shadow.filter(Boolean).length,
      meanMinCountsReduced: mean(reduced, minCounts),
      meanMinCountsNative: mean(kept, minCounts),
    };
  });
  const shadowRule = 'min expected counts < 0.9·I0 over the test set';
  write('channel-flux.json', `${JSON.stringify({ i0, shadowRule, runs: perRun }, null, 2)}\n`, 'per learned run: how many reduced channels lie in the body shadow, and the mean minimum counts of reduced vs. native channels');

  // Designs: at each budget the learned layout of the primary seed, the random control's, and every
  // channel at the same stored bits; previews show the profile's budget (else the first).
  const primary = learned.find((r) => !r.collapsed && r.budget === profile.budget.value) ?? learned.find((r) => !r.collapsed) ?? learned[0];
  const nativeDesign: NamedDesign = { name: `native\n(${native} bits)`, layout: new Uint8Array(C), keptBits, budget: 0 };
  const designsAt = (budget: number): NamedDesign[] => {
    const out: NamedDesign[] = [];
    const run = learned.find((r) => r.seed === primary!.seed && r.budget === budget);
    if (run) out.push({ name: `learned layout\n(${run.id})`, layout: Uint8Array.from(run.hardwareLayout!), keptBits: run.keptBits ?? keptBits, budget });
    const random = runs.find((r) => r.setup === 'random' && r.seed === primary!.seed && r.budget === budget && r.hardwareLayout?.length === C);
    if (random) out.push({ name: `random layout\n(${random.id})`, layout: Uint8Array.from(random.hardwareLayout!), keptBits: random.keptBits ?? keptBits, budget });
    const sameBits = Math.round((1 - budget) * native + budget * keptBits);
    if (sameBits < native) out.push({ name: `every channel\nat ${sameBits} bits`, layout: new Uint8Array(C).fill(1), keptBits: sameBits, budget });
    return out;
  };
  const lowest: NamedDesign = { name: `every channel\nat ${keptBits} bits`, layout: new Uint8Array(C).fill(1), keptBits, budget: 1 };
  const budgets = [...new Set(learned.map((r) => r.budget!))].sort((a, b) => a - b);
  const designs: NamedDesign[] = primary ? [nativeDesign, ...budgets.flatMap(designsAt), lowest] : [nativeDesign];
  const shownDesigns: NamedDesign[] = primary ? [nativeDesign, ...designsAt(primary.budget!), lowest] : [nativeDesign];
  const seed = primary?.seed ?? config.seed;
  const hw = test.height * test.width;
  const cleanHu = (i: number) => Float32Array.from(test.slices[i]!.image, (c) => countToHu(c, test.nativeBits, test.huWindow ?? undefined));

  // HU error of each design's reconstruction against the clean image, inside the body (> −900 HU), over the test set.
  const errors = designs.map(() => ({ sum: 0, n: 0 }));
  for (let i = 0; i < test.slices.length; i++) {
    const analog = readout.analog(test.slices[i]!.image, 1, { seed, epoch: EVALUATION_EPOCH, indices: [i] });
    const truth = cleanHu(i);
    designs.forEach((d, k) => {
      const { hu } = readDesign(readout, analog, d);
      for (let j = 0; j < hw; j++) {
        if (truth[j]! <= -900) continue;
        errors[k]!.sum += (hu[j]! - truth[j]!) ** 2;
        errors[k]!.n += 1;
      }
    });
  }
  const errorRows = designs.map((d, k) => ({
    design: d.name.replace('\n', ' '),
    budget: d.budget,
    reducedChannels: d.layout.reduce((s, v) => s + v, 0),
    keptBits: d.keptBits,
    bitsPerReading: (d.layout.reduce((s, v) => s + v, 0) * d.keptBits + (C - d.layout.reduce((s, v) => s + v, 0)) * native) / C,
    rmseHu: Math.sqrt(errors[k]!.sum / Math.max(1, errors[k]!.n)),
  }));
  write('reconstruction-error.json', `${JSON.stringify({ seed, testImages: test.slices.length, region: 'clean HU > -900', designs: errorRows }, null, 2)}\n`,
    'HU RMSE of each design\'s FBP reconstruction against the clean image, inside the body, over the test set');

  // Previews of the test image with the largest lesion.
  const shown = test.slices.map((s, i) => ({ i, lesion: s.mask.reduce((a, v) => a + v, 0) })).sort((a, b) => b.lesion - a.lesion)[0]!.i;
  const analog = readout.analog(test.slices[shown]!.image, 1, { seed, epoch: EVALUATION_EPOCH, indices: [shown] });
  const read = shownDesigns.map((d) => readDesign(readout, analog, d));
  const rmseOf = (d: NamedDesign) => errorRows[designs.findIndex((x) => x.name === d.name && x.budget === d.budget)]!.rmseHu;
  const pMax = Math.max(...read[0]!.p);
  const { views } = readout.geometry;
  const sinograms: PanelImage[] = [];
  const recons: PanelImage[] = [{ label: 'clean image\n(HU)', pngBase64: await pngBase64(greyLevels(cleanHu(shown), ...PREVIEW_HU), test.width, test.height), width: test.width, height: test.height }];
  for (const [k, d] of shownDesigns.entries()) {
    sinograms.push({ label: d.name, pngBase64: await pngBase64(greyLevels(read[k]!.p, 0, pMax), C, views), width: C, height: views });
    recons.push({ label: `${d.name}\n${rmseOf(d).toFixed(0)} HU RMSE`, pngBase64: await pngBase64(greyLevels(read[k]!.hu, ...PREVIEW_HU), test.width, test.height), width: test.width, height: test.height });
  }
  const imageName = test.slices[shown]!.name;
  const sinogramSvg = panelRowSvg(sinograms, 2, `Sinograms −log(counts/I0) of ${imageName}, views down × channels across, 0 … ${pMax.toFixed(2)} black to white (same noise draw for every design)`);
  figure('sinograms.png', await svgToPng(sinogramSvg),
    `Sinograms as the ADCs deliver them, after −log(counts/I0): views top to bottom, channels left to right, of test image ${imageName}, one noise draw shared by every design. ` +
      `Each column is one channel; the columns a layout puts on the ${keptBits}-bit mode show coarser grey steps.`);
  const reconSvg = panelRowSvg(recons, 4, `FBP reconstructions of ${imageName}, lung window ${PREVIEW_HU[0]} … ${PREVIEW_HU[1]} HU; RMSE over the test set inside the body (clean HU > −900)`);
  figure('reconstructions.png', await svgToPng(reconSvg),
    `Filtered back-projection of those sinograms (lung window ${PREVIEW_HU[0]} … ${PREVIEW_HU[1]} HU), next to the clean image; each label gives the design's HU RMSE inside the body over the test set. ` +
      'Errors of reduced channels spread along their rays as streaks.');

  if (profile.budget.kind === 'fraction') {
    write('storage.json', `${JSON.stringify(detectorStorageReport(profile, [...new Set(learned.map((r) => r.budget!))].sort((a, b) => a - b)), null, 2)}\n`,
      'storage per detector frame (views × channels readings) at each learned budget, native vs. layout');
  }
  const report: DetectorReportPart = {
    figures,
    reconstructionError: errorRows.map((r) => ({ design: r.design, budget: r.budget, reduced_channels: r.reducedChannels, kept_bits: r.keptBits, bits_per_reading: r.bitsPerReading, rmse_hu: r.rmseHu })),
    channelFlux: perRun.map((r) => ({
      run: r.id, budget: r.budget, reduced_channels: r.reducedChannels, reduced_in_body_shadow: r.reducedInBodyShadow, channels_in_body_shadow: r.channelsInBodyShadow,
      mean_min_counts_reduced: r.meanMinCountsReduced, mean_min_counts_native: r.meanMinCountsNative,
    })),
    errorNote: `rmse_hu: HU RMSE of the FBP reconstruction against the clean image, inside the body (clean HU > −900), over ${test.slices.length} test image(s), seed ${seed}; bits_per_reading: mean ADC bits per channel reading.`,
    fluxNote: `Body shadow: ${shadowRule} (I0 = ${i0} counts). mean_min_counts_*: mean over the reduced / native channels of each channel's minimum expected counts.`,
    descriptions,
  };
  return { files, report };
}
