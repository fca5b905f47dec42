/**
 * writeReport: everything an output folder holds besides checkpoints — runs, CSV tables, the
 * layout file, maps, plots, report.html and manifest.json — each written atomically.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join, relative, resolve, sep } from 'node:path';
import type { RunResult } from '../runs/types.js';
import { learnedLayoutNote } from './learned-note.js';
import type { DetectorProfile } from '../profile/types.js';
import { writeFileAtomic } from '../util/atomic.js';
import { toCsv } from './csv.js';
import { examplesPng, type ExampleInput } from './examples.js';
import { reportHtml, type HtmlFigure, type HtmlTable } from './html.js';
import { encodeLayout } from '../layout-io/layout-file.js';
import { bitDepthScale, binaryLayoutScale, mapPng } from './maps.js';
import { buildManifest, detectVersions, fileEntry, manifestProblems, type ManifestFile, type SplitMembers, type Versions } from './manifest.js';
import { designDecision, PARETO_COLUMNS } from './designs.js';
import { PARETO_PLOT_SIZE, paretoPlotSpec } from './pareto-plot.js';
import { PER_IMAGE_COLUMNS, perImageRows, PLACEMENT_COLUMNS, type ImageId, type PlacementRow } from './placement.js';
import { patientDesigns, patientRows } from './patients.js';
import { runFileName, writeRun } from '../runs/store.js';
import { diceVsBitsSpec, diceVsBudgetSpec, keptEpochClause, trainingCurveSpecs } from './plots.js';
import { plotGridSvg, plotSvg, svgToPng } from './svg-plot.js';
import { buildTables, type TableOptions } from './tables.js';
import { adcBitsOf, detectorLayout } from './table-layout.js';
import { DETECTOR_STORAGE_COLUMNS, LAYOUT_COLUMNS, RUN_COLUMNS, STORAGE_COLUMNS, STUDY_COLUMNS, TRADEOFF_COLUMNS } from './table-rows.js';
import { CHANNEL_FLUX_COLUMNS, RECONSTRUCTION_ERROR_COLUMNS, type DetectorReportPart } from './detector.js';
import type { Cell } from './csv.js';

export interface ReportMeta {
  /** Name of the output folder, out/<runId>/; default: the folder's base name. */
  runId?: string;
  /** Which experiment wrote the folder: train, study, sweep, demo, merge. */
  kind?: string;
  /** ISO 8601 time of writing; default now. */
  createdAt?: string;
  command?: string;
  /** Backend name(s); default: the distinct backends of the runs. */
  backend?: string;
  /** The seeds the config asked for; default: the distinct seeds of the runs. */
  seeds?: number[];
  /** Where the data came from (dataset source, "synthetic seed 1"). */
  data?: string;
  /** How train / validation / test were cut ("by volume (…)", or slice by slice when asked for). */
  split?: string;
  /** Total wall seconds of the session (manifest timings.totalSeconds). */
  seconds?: number;
  /** tf.version.tfjs of the loaded library (else read from node_modules). */
  tfjsVersion?: string;
  /** Overrides / additions to the detected versions. */
  versions?: Partial<Versions>;
  /** τ of the design decision (default 0.02, designs.ts DEFAULT_TOLERANCE). */
  tolerance?: number;
  /** More seconds per phase the caller timed, e.g. { dataSeconds }. */
  timings?: Record<string, number>;
  /**
   * `eval` reports: the data set the saved models were evaluated on and its slice count. The
   * title says so, the training curves are labelled as coming from training, the examples are the
   * best and worst slices of this data.
   */
  evaluation?: { dataset: string; slices: number };
}

export interface WriteReportInput {
  runs: readonly RunResult[];
  profile: DetectorProfile;
  /** The experiment config as run; null for merged folders. */
  config?: unknown;
  /** A few test slices with predictions for the examples figure. */
  examples?: readonly ExampleInput[];
  meta: ReportMeta;
  tables?: TableOptions;
  /** The test images in the order every run's dice.perImage lists them: per-image.csv. */
  testImages?: readonly ImageId[];
  /** Where each layout's reduced pixels lie on the test images (placement.ts), and how it was measured. */
  bitPlacement?: { rows: PlacementRow[]; note: string };
  /** Which volumes and slices trained, validated and tested (manifest.json splitMembers). */
  splitMembers?: SplitMembers;
  /** Write runs/<id>.json for runs whose file is missing from outDir (default true; existing files are left alone). */
  writeRuns?: boolean;
  /** Detector space: the outputs already written under detector/ (src/pipeline/detector-outputs.ts), shown in report.html and described in manifest.json. */
  detector?: DetectorReportPart;
}

/** Thresholds of the published probability-map figures (pixel reduced where p ≥ t). */
export const MAP_THRESHOLDS = [0.3, 0.7] as const;

/**
 * Writes the whole output folder; returns the relative paths written, manifest.json last.
 * Throws (a bug, not a user error) if the manifest it built does not match its schema.
 */
export async function writeReport(outDir: string, input: WriteReportInput): Promise<string[]> {
  const t0 = performance.now();
  const { runs, profile } = input;
  const tables = buildTables(runs, profile, input.tables);
  const files: ManifestFile[] = [];
  const put = (path: string, data: Uint8Array | string, description: string) => {
    writeFileAtomic(join(outDir, path), data);
    files.push(fileEntry(path, data, description));
  };

  if (input.writeRuns ?? true) {
    for (const run of [...runs].sort((a, b) => (a.id < b.id ? -1 : 1))) {
      const rel = runFileName(run.id);
      if (!existsSync(join(outDir, rel))) writeRun(outDir, run);
    }
  }

  put('runs.csv', toCsv(tables.runs, RUN_COLUMNS), 'one line per run, collapsed runs marked');
  put('tradeoff.csv', toCsv(tables.tradeoff, TRADEOFF_COLUMNS), 'Dice per budget and arm: mean, sd, seed t-interval, image bootstrap, paired differences vs. random and baseline');
  put('study.csv', toCsv(tables.study, STUDY_COLUMNS as never[]), 'bit-depth study: setups (a) all-pixels-baseline and (b) all-pixels-retrained per kept-bits level, baseline row first');
  // Detector space stores the sinogram frame (views × channels readings), not the image's pixels.
  const storageView = tables.detectorStorage
    ? { columns: DETECTOR_STORAGE_COLUMNS as readonly string[], rows: rowsOf(tables.detectorStorage), note: 'detector frame: views × channels readings, each at its channel ADC bits; the baseline row has every channel native' }
    : { columns: STORAGE_COLUMNS as readonly string[], rows: rowsOf(tables.storage), note: undefined };
  put('storage.csv', toCsv(storageView.rows, storageView.columns as never[]),
    tables.detectorStorage ? 'bits and bytes per detector frame (views × channels readings), baseline (all channels native) vs. channel layout, per budget' : 'bits and bytes per frame, native vs. layout, per budget');

  // The design decision first: the front over every family and the most saving design within τ.
  const designs = designDecision(runs, profile, { tolerance: input.meta.tolerance, level: input.tables?.level });
  put('pareto.csv', toCsv(designs.rows, PARETO_COLUMNS),
    'every design (full precision, uniform k bits, each layout family at each budget): bits per pixel, saving, validation and test Dice, non-dominated, chosen');
  const decisionFigures: HtmlFigure[] = [];
  if (designs.front.some((p) => p.nUsed > 0)) {
    const spec = paretoPlotSpec(designs.front, designs.decision, { nativeBits: profile.nativeBits });
    const png = await svgToPng(plotSvg(spec, PARETO_PLOT_SIZE.width, PARETO_PLOT_SIZE.height));
    const caption = `The front: test Dice against stored bits per pixel for every design; non-dominated designs (on validation Dice) ringed, the decision circled, full precision ± τ = ${designs.tolerance} dashed.`;
    put('plot-pareto.png', png, caption);
    decisionFigures.push({ file: 'plot-pareto.png', png, caption });
  }
  if (input.bitPlacement) put('bit-placement.csv', toCsv(input.bitPlacement.rows, PLACEMENT_COLUMNS), `where each layout's reduced pixels lie: ${input.bitPlacement.note}`);
  if (input.testImages) {
    put('per-image.csv', toCsv(perImageRows(runs, input.testImages), PER_IMAGE_COLUMNS), 'Dice of every run on every test image, with slice id, volume id and lesion pixels');
  }
  // The decision per test patient: whether one patient carries the headline difference.
  const patients = input.testImages && designs.decision ? patientRows(runs, input.testImages, patientDesigns(designs.decision)) : undefined;
  if (patients) put('per-patient.csv', toCsv(patients.rows, patients.columns as never[]), 'test Dice per test volume of full precision, the chosen design and the best uniform design, and chosen − full precision');

  const figures: HtmlFigure[] = [];
  const figure = (file: string, png: Uint8Array, caption: string) => {
    put(file, png, caption);
    figures.push({ file, png, caption, small: file.startsWith('map-') });
  };
  // The headline's figures first, then the layout maps, training curves and examples.
  // A re-evaluation's Dice is over the data it evaluated (another hospital's slices, or the validation part), not a test split.
  const images = input.meta.evaluation ? 'the evaluated images' : 'test images';
  const budgetSpec = diceVsBudgetSpec(tables, runs, profile, images);
  if (budgetSpec) figure('plot-dice-vs-budget.png', await svgToPng(plotSvg(budgetSpec)), 'Dice vs. budget: learned layout, stochastic masks, random control and the full-precision baseline.');
  const bitsSpec = diceVsBitsSpec(tables, runs, profile, images);
  if (bitsSpec) figure('plot-dice-vs-bits.png', await svgToPng(plotSvg(bitsSpec)), 'Dice vs. stored bits per pixel: bit-depth study (a), (b) and the layouts.');

  const lr = tables.layoutRun;
  if (lr) {
    put('layout.csv', toCsv(tables.layout, LAYOUT_COLUMNS), `per detector pixel: probability and ADC bits of run ${lr.id}`);
    put('layout.ctql', encodeLayout(detectorLayout(lr, profile)), `compact ADC layout of run ${lr.id} (docs/layout-format.md)`);
    const grid = `${lr.rows}×${lr.cols} layout cells` + (lr.rows !== profile.rows || lr.cols !== profile.cols ? ` on a ${profile.rows}×${profile.cols} detector` : '');
    const note = `run ${lr.id}${lr.collapsed ? ' (COLLAPSED)' : ''}, ${grid}`;
    const reduced = lr.keptBits ?? profile.modes[profile.modes.length - 1]!;
    if (lr.probabilityMap) {
      figure('map-probability.png', await mapPng({
        values: lr.probabilityMap, rows: lr.rows, cols: lr.cols, note,
        title: 'Probability of a reduced-precision ADC per pixel',
        scale: { kind: 'continuous', min: 0, max: 1, label: 'probability' },
      }), `Learned probability map (${note}).`);
      for (const t of MAP_THRESHOLDS) {
        figure(`map-threshold-${t}.png`, await mapPng({
          values: lr.probabilityMap.map((p) => (p >= t ? 1 : 0)), rows: lr.rows, cols: lr.cols, note,
          title: `Probability map thresholded at ${t}`, scale: binaryLayoutScale(profile.nativeBits, reduced),
        }), `Pixels with probability ≥ ${t} on the ${reduced}-bit ADC (${note}).`);
      }
    }
    if (lr.hardwareLayout) {
      figure('map-hardware.png', await mapPng({
        values: lr.hardwareLayout, rows: lr.rows, cols: lr.cols, note,
        title: `Hardware layout (top-k), budget ${lr.budget ?? '?'}`, scale: binaryLayoutScale(profile.nativeBits, reduced),
      }), `Hardware layout: exactly the top-k pixels by probability on the ${reduced}-bit ADC (${note}).`);
    }
    if (lr.bitsMap) {
      const bits = adcBitsOf(lr, profile);
      figure('map-bits.png', await mapPng({
        values: bits, rows: lr.rows, cols: lr.cols, note,
        title: `ADC bit depth per pixel, ${lr.budget ?? '?'} bits per pixel`, scale: bitDepthScale([...bits, profile.nativeBits, ...profile.modes]),
      }), `Multi-level layout: ADC bits of each pixel (${note}).`);
    }
  }

  const evaluation = input.meta.evaluation;
  const curves = trainingCurveSpecs(runs);
  if (curves.length) {
    const title = evaluation ? 'Training curves (from training, not measured on the evaluated data)' : 'Training curves';
    const caption = evaluation
      ? `From training: loss and validation Dice per epoch as recorded when the runs trained, not measured on ${evaluation.dataset} (collapsed runs dashed).`
      : `Training loss and validation Dice per epoch, one line per run (collapsed runs dashed)${keptEpochClause(runs)}.`;
    figure('plot-training.png', await svgToPng(plotGridSvg(curves, 2, 600, 400, title)), caption);
  }
  if (input.examples && input.examples.length) {
    const caption = evaluation
      ? `Best and worst slices of ${evaluation.dataset} (Dice in each title): input, ground truth and prediction outlines.`
      : 'Example test slices: input, ground truth and prediction outlines.';
    figure('plot-examples.png', await examplesPng(input.examples), caption);
  }

  const backend = input.meta.backend ?? ([...new Set(runs.map((r) => r.backend))].sort().join(', ') || 'none');
  const versions: Versions = {
    ...detectVersions(),
    ...(input.meta.tfjsVersion ? { tfjs: input.meta.tfjsVersion } : {}),
    ...stripUndefined(input.meta.versions ?? {}),
  };
  const runId = input.meta.runId ?? basename(resolve(outDir));
  const createdAt = input.meta.createdAt ?? new Date().toISOString();
  const collapsedRow = (r: Record<string, Cell>) => r.collapsed === true || r.collapsed === 'some' || r.collapsed === 'all' ||
    r.a_collapsed === 'some' || r.a_collapsed === 'all' || r.b_collapsed === 'some' || r.b_collapsed === 'all';
  const views: HtmlTable[] = [
    { title: 'Trade-off per budget', file: 'tradeoff.csv', columns: TRADEOFF_COLUMNS, rows: rowsOf(tables.tradeoff), isCollapsed: collapsedRow,
      note: 'dice_seed_t_*: 95% t-interval across seeds; dice_image_boot_*: 95% bootstrap over test images. vs_*: paired by seed.' },
    { title: 'Bit-depth study', file: 'study.csv', columns: STUDY_COLUMNS, rows: rowsOf(tables.study), isCollapsed: collapsedRow },
    { title: tables.detectorStorage ? 'Storage per detector frame' : 'Storage per frame', file: 'storage.csv', columns: storageView.columns, rows: storageView.rows,
      ...(storageView.note ? { note: storageView.note } : {}) },
    { title: 'All runs', file: 'runs.csv', columns: RUN_COLUMNS, rows: rowsOf(tables.runs), isCollapsed: collapsedRow },
  ];
  const decisionTables: HtmlTable[] = [
    // The columns a reader decides by first (pareto.csv keeps its own order).
    { title: 'Designs on the front', file: 'pareto.csv', rows: rowsOf(designs.rows),
      columns: ['design', 'bits_per_pixel', 'saving_pct', 'val_dice_mean', 'test_dice_mean', 'test_dice_lo', 'test_dice_hi', 'non_dominated', 'chosen', 'n_seeds', 'n_collapsed', 'family', 'kind'],
      isChosen: (r) => r.chosen === true, isCollapsed: (r) => r.n_collapsed === r.n_seeds,
      note: 'val_dice_mean: mean validation Dice over non-collapsed seeds (the front and the decision use it); test_dice_*: mean and 95% t-interval across seeds (reported only). saving_pct = 1 − bits/native.' },
  ];
  if (patients) {
    decisionTables.push({ title: 'The decision per test patient', file: 'per-patient.csv', columns: patients.columns, rows: rowsOf(patients.rows),
      note: 'dice_*: mean Dice over the volume\'s test images, then over the design\'s non-collapsed seeds; the last row is every test image (the front\'s test Dice). A difference one patient carries is not a property of the design.' });
  }
  if (input.bitPlacement) {
    decisionTables.push({ title: 'Where did the bits go', file: 'bit-placement.csv', columns: PLACEMENT_COLUMNS, rows: rowsOf(input.bitPlacement.rows), note: input.bitPlacement.note });
  }
  const decision = { sentences: designs.sentences, rule: designs.rule, figures: decisionFigures, tables: decisionTables };
  const detector = input.detector ? detectorView(input.detector, profile) : undefined;
  const learnedNote = learnedLayoutNote(runs);
  put('report.html', reportHtml({ profile, tables, runId, createdAt, backend, versions, data: input.meta.data, split: input.meta.split, decision, figures, tableViews: views,
    ...(evaluation ? { evaluatedOn: evaluation } : {}), ...(detector ? { detector } : {}), ...(learnedNote ? { learnedNote } : {}) }),
    'self-contained report: the design decision and its front first, then the learned-vs-random comparison, figures and tables');

  // Files already in the folder (runs/*.json, checkpoints, logs) are listed too: the manifest describes the whole folder.
  const ours = new Set(files.map((f) => f.path));
  for (const path of listFiles(outDir)) {
    if (ours.has(path) || path === 'manifest.json') continue;
    files.push(fileEntry(path, readFileSync(join(outDir, path)), input.detector?.descriptions[path] ?? describeExisting(path, runs)));
  }
  files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const timings: Record<string, number> = { ...(input.meta.timings ?? {}) };
  if (input.meta.seconds !== undefined) timings.totalSeconds = input.meta.seconds;
  const manifest = buildManifest({
    runId, createdAt, command: input.meta.command, kind: input.meta.kind, data: input.meta.data, split: input.meta.split, seeds: input.meta.seeds,
    ...(input.splitMembers ? { splitMembers: input.splitMembers } : {}),
    profile, config: input.config ?? null, runs, bootstrapSeed: input.tables?.bootstrapSeed ?? 0, backend, versions, timings,
    reportSeconds: (performance.now() - t0) / 1000, files,
  });
  const problems = manifestProblems(manifest);
  if (problems.length) throw new Error(`manifest does not match its schema: ${problems.map((p) => `${p.pointer}: ${p.message}`).join('; ')}`);
  writeFileAtomic(join(outDir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  return [...files.map((f) => f.path), 'manifest.json'];
}

/** report.html's detector section: the three figures and the two small tables of the outputs under detector/. */
function detectorView(d: DetectorReportPart, profile: DetectorProfile): NonNullable<Parameters<typeof reportHtml>[0]['detector']> {
  const section = profile.detector!;
  const intro = `Here the layout unit is the detector channel: one ADC per channel, used at every one of the ${section.views} views, ` +
    `${section.channels} channels, ${profile.nativeBits}-bit native, reduced mode ${Math.min(...profile.modes)} bits. The model sees the filtered back-projection of the readings.`;
  return {
    intro,
    figures: d.figures.map((f) => ({ file: f.file, png: f.png, caption: f.caption })),
    tables: [
      { title: 'Reconstruction error per design', file: 'detector/reconstruction-error.json', columns: RECONSTRUCTION_ERROR_COLUMNS, rows: rowsOf(d.reconstructionError), note: d.errorNote },
      { title: 'Which channels the learned layouts reduce', file: 'detector/channel-flux.json', columns: CHANNEL_FLUX_COLUMNS, rows: rowsOf(d.channelFlux), note: d.fluxNote },
    ],
  };
}

function rowsOf(rows: readonly object[]): Record<string, Cell>[] {
  return rows as Record<string, Cell>[];
}

function stripUndefined(o: Partial<Versions>): Record<string, string> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Record<string, string>;
}

/** Relative paths (forward slashes) of every plain file under dir, skipping dot-files (atomic-write temps). */
function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.name.startsWith('.')) continue;
      const full = join(d, e.name);
      if (e.isDirectory()) walk(full);
      else if (e.isFile()) out.push(relative(dir, full).split(sep).join('/'));
    }
  };
  walk(dir);
  return out.sort();
}

/** A description for a file the report did not write itself. */
function describeExisting(path: string, runs: readonly RunResult[]): string {
  const m = /^runs\/(.+)\.json$/.exec(path);
  const run = m ? runs.find((r) => r.id === m[1]) : undefined;
  if (run) return `run result ${run.id} (${run.setup}, seed ${run.seed}${run.collapsed ? ', collapsed' : ''})`;
  const owner = runs.find((r) => r.checkpoint && (path === r.checkpoint || path.startsWith(`${r.checkpoint.replace(/\/$/, '')}/`)));
  if (owner) return `model checkpoint of run ${owner.id}`;
  return m ? 'run result (not among the reported runs)' : 'file found in the output folder';
}
