/**
 * manifest.json: what an output folder holds and how it was made (schemas/manifest.schema.json).
 * Building it is pure given the file bytes; `fileEntry` hashes one written file, and
 * `readManifestSplit` reads back the split a folder recorded (for `eval --part`).
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunResult } from '../runs/types.js';
import type { DetectorProfile } from '../profile/types.js';
import { compileSchema, schemaProblems, type SchemaProblem } from '../util/validate.js';
import { readJsonFile, readShippedSchema } from '../util/json-file.js';

export interface ManifestFile {
  /** Relative to the output folder, forward slashes. */
  path: string;
  bytes: number;
  sha256: string;
  description: string;
}

export interface Versions {
  node: string;
  tfjs: string;
  ctquant: string;
  [other: string]: string;
}

export interface Manifest {
  tool: 'ctquant';
  manifestVersion: 1;
  runId: string;
  createdAt: string;
  command?: string;
  kind?: string;
  data?: string;
  /** How train / validation / test were cut: by volume (and which rule gave the ids) or slice by slice. */
  split?: string;
  /** Which volumes and slices trained, validated and tested (sessions that prepared the data). */
  splitMembers?: SplitMembers;
  profile: DetectorProfile;
  config: unknown;
  seeds: number[];
  bootstrapSeed: number;
  backend: string;
  versions: Versions;
  timings: { trainSecondsTotal: number; reportSeconds: number; [phase: string]: number };
  runs: { count: number; collapsed: string[]; ids: string[] };
  files: ManifestFile[];
}

/** The volumes (sorted, distinct) and slice names (in data order) of one part of the split. */
export interface SplitPart {
  volumes: string[];
  slices: string[];
}

export interface SplitMembers {
  train: SplitPart;
  validation: SplitPart;
  test: SplitPart;
}

/** A split part from its slices' names and volume ids. */
export function splitPart(slices: readonly { name: string; volumeId: string }[]): SplitPart {
  return { volumes: [...new Set(slices.map((s) => s.volumeId))].sort(), slices: slices.map((s) => s.name) };
}

/**
 * The split members an output folder's manifest.json records, or undefined when it has none (older
 * folders, synthetic data) or the file cannot be read as JSON.
 */
export function readManifestSplit(outDir: string): SplitMembers | undefined {
  const file = join(outDir, 'manifest.json');
  // A folder without a manifest (or one written before splitMembers) has no split to check; a
  // damaged one is an error naming it, not a silently skipped check, and a FIFO is never read.
  if (!existsSync(file)) return undefined;
  const manifest = readJsonFile(file, 'manifest') as { splitMembers?: SplitMembers } | null;
  const members = typeof manifest === 'object' ? manifest?.splitMembers : undefined;
  const isPart = (p: unknown) => Array.isArray((p as SplitPart | undefined)?.volumes);
  return members && isPart(members.train) && isPart(members.validation) && isPart(members.test) ? members : undefined;
}

/** A manifest entry for bytes written at `path` (relative to the output folder). */
export function fileEntry(path: string, data: Uint8Array | string, description: string): ManifestFile {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  return { path, bytes: bytes.byteLength, sha256: createHash('sha256').update(bytes).digest('hex'), description };
}

export interface ManifestInput {
  runId: string;
  createdAt: string;
  command?: string;
  kind?: string;
  data?: string;
  split?: string;
  splitMembers?: SplitMembers;
  /** Seeds the config asked for; default: the distinct seeds of the runs. */
  seeds?: number[];
  profile: DetectorProfile;
  config: unknown;
  runs: readonly RunResult[];
  bootstrapSeed: number;
  backend: string;
  versions: Versions;
  timings: Record<string, number>;
  reportSeconds: number;
  files: ManifestFile[];
}

/** The manifest object (pure). Seeds and run ids are sorted; files keep the given order. */
export function buildManifest(m: ManifestInput): Manifest {
  const ids = m.runs.map((r) => r.id).sort();
  return {
    tool: 'ctquant',
    manifestVersion: 1,
    runId: m.runId,
    createdAt: m.createdAt,
    ...(m.command !== undefined ? { command: m.command } : {}),
    ...(m.kind !== undefined ? { kind: m.kind } : {}),
    ...(m.data !== undefined ? { data: m.data } : {}),
    ...(m.split !== undefined ? { split: m.split } : {}),
    ...(m.splitMembers !== undefined ? { splitMembers: m.splitMembers } : {}),
    profile: profileForManifest(m.profile),
    config: m.config ?? null,
    seeds: [...new Set(m.seeds ?? m.runs.map((r) => r.seed))].sort((a, b) => a - b),
    bootstrapSeed: m.bootstrapSeed,
    backend: m.backend,
    versions: m.versions,
    timings: {
      ...m.timings,
      trainSecondsTotal: m.runs.reduce((s, r) => s + r.trainSeconds, 0),
      reportSeconds: m.reportSeconds,
    },
    runs: { count: m.runs.length, collapsed: m.runs.filter((r) => r.collapsed).map((r) => r.id).sort(), ids },
    files: m.files,
  };
}

/** The profile's documented fields only (a loader may attach more), so the manifest stays schema-valid. */
function profileForManifest(p: DetectorProfile): DetectorProfile {
  const { name, description, rows, cols, nativeBits, modes, rule, budget, sweep, file } = p;
  return { name, description, rows, cols, nativeBits, modes, rule, budget: { kind: budget.kind, value: budget.value }, sweep, ...(file !== undefined ? { file } : {}) };
}

/** Problems of a manifest against schemas/manifest.schema.json (empty when valid). */
export function manifestProblems(manifest: unknown): SchemaProblem[] {
  return schemaProblems(compileSchema(readShippedSchema('manifest.schema.json')), manifest);
}

/** Versions of node, tfjs (from its package.json) and ctquant (ours), for when the caller gives none. */
export function detectVersions(): Versions {
  const read = (url: URL): string => {
    try {
      return String((JSON.parse(readFileSync(url, 'utf8')) as { version?: string }).version ?? 'unknown');
    } catch {
      return 'unknown';
    }
  };
  return {
    node: process.version,
    tfjs: read(new URL('../../node_modules/@tensorflow/tfjs/package.json', import.meta.url)),
    ctquant: read(new URL('../../package.json', import.meta.url)),
  };
}
