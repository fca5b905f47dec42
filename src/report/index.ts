/** The report layer's public API: pure tables and statistics, figures, the layout file, and writeReport (runs are read and written by src/runs/store.ts). */
export { writeReport, MAP_THRESHOLDS, type ReportMeta, type WriteReportInput } from './write.js';
export { buildTables, type TableOptions } from './tables.js';
export {
  budgetKindOf, RUN_COLUMNS, TRADEOFF_COLUMNS, STUDY_COLUMNS, STORAGE_COLUMNS, DETECTOR_STORAGE_COLUMNS, LAYOUT_COLUMNS,
  type Tables, type RunRow, type TradeoffRow, type StudyRow, type StorageTableRow, type DetectorStorageTableRow, type LayoutRow,
  type Verdict, type Arm, type DiceStats, type DiffStats, type CollapsedMark,
} from './table-rows.js';
export { pickLayoutRun, detectorLayout, adcBitsOf } from './table-layout.js';
export {
  mean, sampleStd, tInterval, bootstrapMeanInterval, pairedDifferences, studentTQuantile, studentTCdf, quantileSorted,
  columnMeans, type Interval, type BootstrapOptions,
} from './stats.js';
export { toCsv, formatCell } from './csv.js';
export {
  encodeLayout, decodeLayout, readLayoutFile, writeLayoutFile, layoutFromMask, checkLayout, crc32,
  LAYOUT_MAGIC, LAYOUT_VERSION, type AdcLayout, type LayoutEncoding,
} from '../layout-io/layout-file.js';
export { buildManifest, manifestProblems, fileEntry, detectVersions, type Manifest, type ManifestFile, type Versions } from './manifest.js';
export { headlineSentences, reportHtml } from './html.js';
export { examplesPng, type ExampleInput } from './examples.js';
export { mapPng, viridis, type MapSpec, type MapScale } from './maps.js';
export { plotSvg, plotGridSvg, svgToPng, niceTicks, type PlotSpec, type Series } from './svg-plot.js';
export { designDecision, designRows, DEFAULT_TOLERANCE, PARETO_COLUMNS, type DesignDecision, type ParetoRow } from './designs.js';
export { paretoFront, decide, decisionRule, type Decision, type DesignRow, type FrontPoint } from './pareto.js';
export { paretoPlotSpec, PARETO_PLOT_SIZE } from './pareto-plot.js';
export { bitPlacement, type BitPlacement } from './bit-placement.js';
export { placementRows, perImageRows, PLACEMENT_COLUMNS, PER_IMAGE_COLUMNS, type PlacementRow, type PerImageRow, type ImageId } from './placement.js';
