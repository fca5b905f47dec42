// Seeded fuzzing of the inputs a user hands ctquant (issue 17): mutated detector profiles, PNG
// folders, NIfTI volumes, DICOM slices, experiment configs and run folders' experiment.json. Every generated case knows whether it is defective; each defective
// one must be refused with a one-line UserError, each valid one accepted, none may throw anything
// else (a stack trace) or take long (a hang). A few cases go through the real CLI process.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { loadPngFolder } from '../src/data/folder.js';
import { encodeNifti1, encodeNifti2, parseNifti } from '../src/data/nifti.js';
import { readDicomHu } from '../src/data/scan.js';
import { encodeGreyPng, encodeRgbPng } from '../src/data/png.js';
import { loadProfile, studyProfile } from '../src/profile/load.js';
import { DEFAULT_CONFIG, loadConfig } from '../src/config/experiment-config.js';
import { readExperimentRecord } from '../src/experiments/record.js';
import { UserError } from '../src/errors.js';
import { crc32 } from '../src/util/crc32.js';
import { Rng } from '../src/util/rng.js';
import { runCli } from './helpers/cli.js';
import { DEFLATED_LE, encodeDicom, IMPLICIT_LE, type DicomFileOptions } from './helpers/dicom.js';

const root = mkdtempSync(join(tmpdir(), 'ctquant-fuzz-'));
/** A library call over 5 s is a hang; a CLI process (Node, tsx and tfjs start-up on a busy machine) gets 30 s. */
const CASE_MS = 5_000;
const CLI_MS = 30_000;

interface Case {
  name: string;
  defective: boolean;
}
interface Outcome {
  cases: number;
  stackTraces: string[];
  hangs: string[];
  wronglyAccepted: string[];
  wronglyRefused: string[];
}
const outcome: Outcome = { cases: 0, stackTraces: [], hangs: [], wronglyAccepted: [], wronglyRefused: [] };

/** Runs one case and files its result; longer than `limitMs` counts as a hang. */
async function judge(c: Case, attempt: () => unknown, limitMs = CASE_MS): Promise<void> {
  outcome.cases++;
  const t0 = performance.now();
  let error: unknown = null;
  try {
    await attempt();
  } catch (e) {
    error = e;
  }
  const ms = performance.now() - t0;
  if (ms > limitMs) outcome.hangs.push(`${c.name} (${ms.toFixed(0)} ms)`);
  if (error === null) {
    if (c.defective) outcome.wronglyAccepted.push(c.name);
    return;
  }
  if (!(error instanceof UserError) || /\n/.test(error.format())) {
    outcome.stackTraces.push(`${c.name}: ${error instanceof Error ? error.stack : String(error)}`);
    return;
  }
  if (!c.defective) outcome.wronglyRefused.push(`${c.name}: ${error.format()}`);
}

// --- profiles ----------------------------------------------------------------------------------

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
const SHIPPED = ['study-8bit-1bit', 'adc12-4bit-2bit', 'detector16-8bit'].map(
  (n) => JSON.parse(readFileSync(new URL(`../detector-profiles/${n}.json`, import.meta.url), 'utf8')) as { [k: string]: Json },
);
const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;
const pick = <T>(rng: Rng, list: readonly T[]): T => list[rng.int(list.length)]!;
const ALL_VALUES: Json[] = [null, true, 'text', 3.5, [], {}, 7, -2];
const isInt = (v: Json) => typeof v === 'number' && Number.isInteger(v);
/** Values of the wrong type for each field (by what the schema demands there). */
const WRONG_TYPE: Record<string, (v: Json) => boolean> = {
  'name': (v) => typeof v !== 'string',
  'description': (v) => typeof v !== 'string',
  'geometry': (v) => v === null || typeof v !== 'object' || Array.isArray(v),
  'adc': (v) => v === null || typeof v !== 'object' || Array.isArray(v),
  'budget': (v) => v === null || typeof v !== 'object' || Array.isArray(v),
  'geometry.rows': (v) => !isInt(v),
  'geometry.cols': (v) => !isInt(v),
  'adc.nativeBits': (v) => !isInt(v),
  'adc.modes': (v) => !Array.isArray(v),
  'adc.quantizer': () => true,
  'budget.sweep': (v) => !Array.isArray(v),
};

function setAt(doc: { [k: string]: Json }, path: string, value: Json | undefined): void {
  const keys = path.split('.');
  let o = doc as { [k: string]: Json };
  for (const k of keys.slice(0, -1)) o = o[k] as { [k: string]: Json };
  if (value === undefined) delete o[keys[keys.length - 1]!];
  else o[keys[keys.length - 1]!] = value;
}

/** One mutated profile text and whether it is defective. */
function mutateProfile(rng: Rng, i: number): { text: string; case: Case } {
  const base = SHIPPED[i % SHIPPED.length]!;
  const doc = clone(base);
  const adc = doc.adc as { nativeBits: number; modes: number[] };
  const budget = doc.budget as { [k: string]: Json };
  const budgetKey = 'fraction' in budget ? 'fraction' : 'bitsPerPixel';
  const kinds = ['delete', 'type', 'range', 'unknownKey', 'nesting', 'truncate', 'validText', 'validNumbers', 'validOptional', 'shuffle'] as const;
  const kind = kinds[i % kinds.length]!;
  let defective = true;
  let what: string = kind;
  switch (kind) {
    case 'delete': {
      const path = pick(rng, ['name', 'geometry', 'adc', 'budget', 'geometry.rows', 'geometry.cols', 'adc.nativeBits', 'adc.modes', `budget.${budgetKey}`]);
      setAt(doc, path, undefined);
      what = `delete ${path}`;
      break;
    }
    case 'type': {
      const path = pick(rng, [...Object.keys(WRONG_TYPE), `budget.${budgetKey}`]);
      const test = WRONG_TYPE[path] ?? ((v: Json) => typeof v !== 'number');
      const value = pick(rng, ALL_VALUES.filter(test));
      setAt(doc, path, value);
      what = `${path} = ${JSON.stringify(value)}`;
      break;
    }
    case 'range': {
      const lowest = Math.min(...adc.modes);
      const options: [string, Json][] = [
        ['geometry.rows', pick(rng, [0, -1, 16385, 1e9])],
        ['geometry.cols', pick(rng, [0, -3, 20000])],
        ['adc.nativeBits', pick(rng, [0, 1, 33, -8])],
        ['adc.modes', pick(rng, [[], [0], [adc.nativeBits], [adc.nativeBits + 3], [lowest, lowest]])],
        ['adc.quantizer', pick(rng, ['round', '', 'FLOOR'])],
        ['name', ''],
        budgetKey === 'fraction' ? ['budget.fraction', pick(rng, [-0.1, 1.5, 2])] : ['budget.bitsPerPixel', pick(rng, [lowest - 0.5, adc.nativeBits + 1, -1])],
        ['budget.sweep', budgetKey === 'fraction' ? [0.5, pick(rng, [-0.2, 1.01])] : [lowest, adc.nativeBits + 0.5]],
      ];
      const [path, value] = pick(rng, options);
      setAt(doc, path, value);
      what = `${path} = ${JSON.stringify(value)}`;
      break;
    }
    case 'unknownKey': {
      const at = pick(rng, ['', 'geometry.', 'adc.', 'budget.']);
      setAt(doc, `${at}extra${rng.int(100)}`, pick(rng, ALL_VALUES));
      what = `unknown key in ${at || 'top level'}`;
      break;
    }
    case 'nesting': {
      // Deep nesting in place of a field or under an unknown key: written as text (stringify would recurse).
      const depth = pick(rng, [100, 1000, 10_000, 100_000]);
      const nested = pick(rng, ['[', '{"a":']);
      const close = nested === '[' ? ']' : '}';
      const placeholder = '"__NEST__"';
      setAt(doc, pick(rng, ['geometry', 'adc.modes', 'budget', 'nest']), '__NEST__');
      const text = JSON.stringify(doc).replace(placeholder, `${nested.repeat(depth)}1${close.repeat(depth)}`);
      return { text, case: { name: `profile ${i}: nesting depth ${depth}`, defective: true } };
    }
    case 'truncate': {
      const full = JSON.stringify(doc, null, 2) + '\n';
      return { text: full.slice(0, rng.int(full.length - 2)), case: { name: `profile ${i}: truncated JSON`, defective: true } };
    }
    case 'validText': {
      defective = false;
      const alphabet = 'abcXYZ-_.09 äé漢\t\u001b\n"\\';
      doc.description = Array.from({ length: rng.int(40) }, () => alphabet[rng.int(alphabet.length)]).join('');
      doc.name = Array.from({ length: 1 + rng.int(12) }, () => 'abcdefxyz0123-_'[rng.int(15)]).join('');
      what = 'new name and description';
      break;
    }
    case 'validNumbers': {
      defective = false;
      setAt(doc, 'geometry.rows', 1 + rng.int(16384));
      setAt(doc, 'geometry.cols', 1 + rng.int(16384));
      const lowest = Math.min(...adc.modes);
      const value = budgetKey === 'fraction' ? rng.next() : lowest + rng.next() * (adc.nativeBits - lowest);
      setAt(doc, `budget.${budgetKey}`, value);
      what = `rows, cols, ${budgetKey} ${value}`;
      break;
    }
    case 'validOptional': {
      defective = false;
      const path = pick(rng, ['description', 'adc.quantizer', 'budget.sweep', '$schema']);
      setAt(doc, path, undefined);
      what = `without ${path}`;
      break;
    }
    case 'shuffle': {
      defective = false;
      const keys = rng.shuffle(Object.keys(doc));
      const shuffled = Object.fromEntries(keys.map((k) => [k, doc[k]!]));
      return { text: JSON.stringify(shuffled), case: { name: `profile ${i}: keys reordered`, defective: false } };
    }
  }
  return { text: JSON.stringify(doc, null, 2), case: { name: `profile ${i} (${base.name}): ${what}`, defective } };
}

test('fuzz: 160 mutated detector profiles', async () => {
  const rng = new Rng(1701);
  const dir = join(root, 'profiles');
  mkdirSync(dir, { recursive: true });
  for (let i = 0; i < 160; i++) {
    const { text, case: c } = mutateProfile(rng, i);
    const file = join(dir, `p${i}.json`);
    writeFileSync(file, text);
    await judge(c, () => loadProfile(file));
  }
});

// --- PNG folders -------------------------------------------------------------------------------

function chunk(type: string, data: Uint8Array): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'ascii');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}
/** Inserts a chunk before IEND. */
const insertChunk = (png: Buffer, type: string) => {
  const iend = png.length - 12;
  return Buffer.concat([png.subarray(0, iend), chunk(type, Buffer.from('fuzz')), png.subarray(iend)]);
};
/** Rewrites IHDR's bit depth and fixes its CRC, so only the depth is wrong. */
const withDepth = (png: Buffer, depth: number) => {
  const out = Buffer.from(png);
  out[24] = depth;
  out.writeUInt32BE(crc32(out.subarray(12, 29)), 29);
  return out;
};

const PNG_DEFECTS = ['truncate', 'bitflip', 'bitDepth', 'sizeMismatch', 'nameMismatch', 'colour', 'nonBinaryMask', 'criticalChunk', 'valid', 'validAncillary'] as const;

test('fuzz: 100 PNG folders (truncated, bad CRCs, bit depths, mismatched sizes and names, chunks)', async () => {
  const rng = new Rng(2024);
  for (let i = 0; i < 100; i++) {
    const kind = PNG_DEFECTS[i % PNG_DEFECTS.length]!;
    const w = 4 + rng.int(13);
    const h = 4 + rng.int(13);
    const n = 2 + rng.int(2);
    const d = join(root, `png${i}`);
    mkdirSync(join(d, 'ct'), { recursive: true });
    mkdirSync(join(d, 'covid'), { recursive: true });
    const names = Array.from({ length: n }, (_, k) => `p${k >> 1}_${String(k).padStart(3, '0')}`);
    const images: Buffer[] = [];
    const masks: Buffer[] = [];
    for (let k = 0; k < n; k++) {
      images.push(await encodeGreyPng(Uint8Array.from({ length: w * h }, () => rng.int(256)), w, h));
      masks.push(await encodeGreyPng(Uint8Array.from({ length: w * h }, () => (rng.next() < 0.3 ? 255 : 0)), w, h));
    }
    const victim = rng.int(n);
    const inMask = rng.next() < 0.5;
    const files = inMask ? masks : images;
    const f = files[victim]!;
    let maskName = names[victim]!;
    switch (kind) {
      case 'truncate':
        files[victim] = f.subarray(0, rng.int(f.length));
        break;
      case 'bitflip': {
        const b = Buffer.from(f);
        const at = 8 + rng.int(b.length - 8);
        b[at] = b[at]! ^ (1 << rng.int(8));
        files[victim] = b;
        break;
      }
      case 'bitDepth':
        files[victim] = withDepth(f, pick(rng, [3, 5, 6, 7, 9, 12, 32, 0]));
        break;
      case 'sizeMismatch':
        masks[victim] = await encodeGreyPng(new Uint8Array((w + 1) * h), w + 1, h);
        break;
      case 'nameMismatch':
        maskName = `${names[victim]}x`;
        break;
      case 'colour':
        images[victim] = await encodeRgbPng(Uint8Array.from({ length: w * h * 3 }, (_, j) => (j % 3 === 0 ? 200 : rng.int(256))), w, h);
        break;
      case 'nonBinaryMask':
        masks[victim] = await encodeGreyPng(Uint8Array.from({ length: w * h }, (_, j) => (j === 0 ? 128 : j === 1 ? 255 : 0)), w, h); // three values: not binary
        break;
      case 'criticalChunk':
        files[victim] = insertChunk(f, pick(rng, ['ABCD', 'XIMG', 'QZzz']));
        break;
      case 'validAncillary':
        files[victim] = insertChunk(f, pick(rng, ['abCd', 'zTXt'.toLowerCase(), 'prVt']));
        break;
      case 'valid':
        break;
    }
    for (let k = 0; k < n; k++) {
      writeFileSync(join(d, 'ct', `${names[k]}.png`), images[k]!);
      writeFileSync(join(d, 'covid', `${k === victim ? maskName : names[k]}.png`), masks[k]!);
    }
    const defective = kind !== 'valid' && kind !== 'validAncillary';
    await judge({ name: `png folder ${i}: ${kind}${inMask ? ' (mask)' : ''}`, defective }, async () => {
      const ds = await loadPngFolder(d);
      if (ds.slices.length !== n) throw new Error(`expected ${n} slices, got ${ds.slices.length}`);
    });
  }
});

// --- NIfTI volumes -----------------------------------------------------------------------------

const NIFTI_DEFECTS = ['dim0', 'dim4', 'nonPositive', 'dimsTooLarge', 'voxOffset', 'datatype', 'sizeofHdr', 'magic', 'nanVoxel', 'truncate', 'valid', 'validOffset'] as const;
/** NIfTI-2 only: an int64 size past 2^53, and a magic whose \0\r\n\032\n tail a text-mode transfer changed. */
const NIFTI2_DEFECTS = [...NIFTI_DEFECTS, 'hugeDim', 'magicTail'] as const;
type NiftiDefect = (typeof NIFTI2_DEFECTS)[number];

/** Where the fuzzed fields of each NIfTI version sit (nifti1.h, nifti2.h) and which wrong values they get. */
const NIFTI_VERSIONS = {
  1: {
    encode: encodeNifti1,
    dataAt: 352,
    magicAt: 344,
    setDim: (v: DataView, i: number, x: number) => v.setInt16(40 + 2 * i, x, true),
    datatypeAt: 70,
    setVoxOffset: (v: DataView, x: number) => v.setFloat32(108, x, true),
    badVoxOffsets: (length: number) => [NaN, Infinity, -Infinity, 0, 347, -352, 1e10, length + 100],
    badSizeofHdr: [0, 347, 349, 540],
  },
  2: {
    encode: encodeNifti2,
    dataAt: 544,
    magicAt: 4,
    setDim: (v: DataView, i: number, x: number) => v.setBigInt64(16 + 8 * i, BigInt(x), true),
    datatypeAt: 12,
    setVoxOffset: (v: DataView, x: number) => v.setBigInt64(168, BigInt(x), true),
    badVoxOffsets: (length: number) => [0, 352, 539, -544, 2 ** 40, -(2 ** 62), length + 100],
    badSizeofHdr: [0, 348, 539, 541],
  },
} as const;

async function fuzzNifti(version: 1 | 2, seed: number, n: number): Promise<void> {
  const rng = new Rng(seed);
  const f = NIFTI_VERSIONS[version];
  const defects: readonly NiftiDefect[] = version === 1 ? NIFTI_DEFECTS : NIFTI2_DEFECTS;
  for (let i = 0; i < n; i++) {
    const kind = defects[i % defects.length]!;
    const dims: [number, number, number] = [1 + rng.int(8), 1 + rng.int(8), 1 + rng.int(4)];
    const count = dims[0] * dims[1] * dims[2];
    const type = kind === 'nanVoxel' ? 2 : rng.int(3);
    const data = type === 0 ? Int16Array.from({ length: count }, () => rng.int(4000) - 1024) : type === 1 ? Uint8Array.from({ length: count }, () => rng.int(2)) : Float32Array.from({ length: count }, () => rng.uniform(-1000, 1000));
    let bytes: Uint8Array = f.encode(dims, data);
    const v = () => new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    switch (kind) {
      case 'dim0':
        f.setDim(v(), 0, pick(rng, [0, 1, 8, -3, 300]));
        break;
      case 'dim4':
        f.setDim(v(), 0, 4);
        f.setDim(v(), 4, 2 + rng.int(5));
        break;
      case 'nonPositive':
        f.setDim(v(), 1 + rng.int(3), pick(rng, [0, -1, -32768]));
        break;
      case 'dimsTooLarge':
        f.setDim(v(), 1 + rng.int(3), dims[0] + 10 + rng.int(100));
        break;
      case 'hugeDim':
        v().setBigInt64(16 + 8 * (1 + rng.int(3)), pick(rng, [2n ** 53n + 1n, 2n ** 62n, 2n ** 63n - 1n, -(2n ** 63n)]), true);
        break;
      case 'voxOffset':
        f.setVoxOffset(v(), pick(rng, f.badVoxOffsets(bytes.length)));
        break;
      case 'datatype':
        v().setInt16(f.datatypeAt, pick(rng, [0, 1, 32, 128, 1536, 2304, -4]), true);
        break;
      case 'sizeofHdr':
        v().setInt32(0, pick(rng, f.badSizeofHdr), true);
        break;
      case 'magic':
        bytes[f.magicAt + rng.int(3)] = 0x78;
        break;
      case 'magicTail': {
        const at = f.magicAt + 3 + rng.int(5);
        bytes[at] = pick(rng, [0x0a, 0x0d, 0x20, 0x78].filter((b) => b !== bytes[at]));
        break;
      }
      case 'nanVoxel':
        v().setFloat32(f.dataAt + 4 * rng.int(count), pick(rng, [NaN, Infinity, -Infinity]), true);
        break;
      case 'truncate':
        bytes = bytes.subarray(0, rng.int(bytes.length));
        break;
      case 'validOffset': {
        // Extension bytes between the header and the data, with vox_offset pointing past them.
        const pad = 16 * (1 + rng.int(4));
        const out = new Uint8Array(bytes.length + pad);
        out.set(bytes.subarray(0, f.dataAt));
        out.set(bytes.subarray(f.dataAt), f.dataAt + pad);
        f.setVoxOffset(new DataView(out.buffer), f.dataAt + pad);
        bytes = out;
        break;
      }
      case 'valid':
        break;
    }
    const gz = rng.next() < 0.4;
    const input = gz ? gzipSync(bytes) : bytes;
    const defective = kind !== 'valid' && kind !== 'validOffset';
    const name = version === 1 ? `nifti ${i}` : `nifti-2 ${i}`;
    await judge({ name: `${name}: ${kind}${gz ? ' (gz)' : ''}`, defective }, () => {
      const vol = parseNifti(input, `case${i}.nii${gz ? '.gz' : ''}`);
      if (vol.dims.join() !== dims.join()) throw new Error(`dims ${vol.dims.join('×')}, expected ${dims.join('×')}`);
    });
  }
}

test('fuzz: 120 NIfTI volumes (wrong dims, offsets, datatypes, NaN / Inf voxels, truncation)', async () => {
  await fuzzNifti(1, 4242, 120);
});

test('fuzz: 112 NIfTI-2 volumes (the same defects at the NIfTI-2 offsets, int64 sizes past 2^53, a damaged magic tail)', async () => {
  await fuzzNifti(2, 4343, 112);
});

// --- DICOM slices ------------------------------------------------------------------------------

const DICOM_DEFECTS = ['valid', 'valid12', 'validBare', 'validDeflated', 'validImplicit', 'bitsStored', 'highBit', 'bitsAllocated', 'encapsulated', 'photometric', 'truncate', 'truncateDeflated', 'frames'] as const;

test('fuzz: 104 DICOM slices (bit layouts, bare and deflated data sets, truncation, encapsulation)', async () => {
  const rng = new Rng(777);
  const d = join(root, 'dicom');
  mkdirSync(d, { recursive: true });
  for (let i = 0; i < 104; i++) {
    const kind = DICOM_DEFECTS[i % DICOM_DEFECTS.length]!;
    const rows = 1 + rng.int(6);
    const cols = 1 + rng.int(6);
    // Stored values of 12 bits, signed, written with random bits 12 … 15 where 12 bits are stored.
    const values = Array.from({ length: rows * cols }, () => rng.int(4096) - 2048);
    const twelve = kind === 'valid12' || kind === 'bitsStored' || kind === 'highBit';
    const pixels = twelve ? Uint16Array.from(values, (v) => (rng.int(16) << 12) | (v & 0xfff)) : Int16Array.from(values);
    const opts: DicomFileOptions = { rows, cols, pixels, patient: `P${i}`, slope: 1, intercept: -1024, ...(twelve ? { bitsStored: 12 } : {}) };
    switch (kind) {
      case 'validBare':
        opts.part10 = false;
        break;
      case 'validDeflated':
      case 'truncateDeflated':
        opts.transferSyntax = DEFLATED_LE;
        break;
      case 'validImplicit':
        opts.transferSyntax = IMPLICIT_LE;
        break;
      case 'bitsStored':
        opts.bitsStored = pick(rng, [0, 17, 32]);
        opts.highBit = 11;
        break;
      case 'highBit':
        opts.highBit = pick(rng, [10, 16, 0, 40]);
        break;
      case 'bitsAllocated':
        opts.bitsAllocated = pick(rng, [1, 12, 32, 0]);
        opts.bitsStored = 12;
        break;
      case 'encapsulated':
        opts.encapsulated = true;
        break;
      case 'photometric':
        opts.photometric = pick(rng, ['PALETTE COLOR', 'RGB', 'YBR_FULL']);
        break;
      case 'frames':
        opts.frames = 2 + rng.int(3);
        break;
    }
    let bytes = encodeDicom(opts);
    if (kind === 'truncate' || kind === 'truncateDeflated') bytes = bytes.subarray(0, rng.int(bytes.length - 1));
    const file = join(d, `case${i}.dcm`);
    writeFileSync(file, bytes);
    await judge({ name: `dicom ${i}: ${kind}`, defective: !kind.startsWith('valid') }, () => {
      const hu = Array.from(readDicomHu(file).hu);
      if (hu.join() !== values.map((v) => v - 1024).join()) throw new Error(`HU ${hu.join()}, expected ${values.map((v) => v - 1024).join()}`);
    });
  }
});

// --- experiment configs (--config) --------------------------------------------------------------

/** [config, defective, what]: types, ranges, sizes that would never finish or never fit in memory, and valid ones. */
const CONFIG_CASES: [Json, boolean, string][] = [
  [{ epochs: '16' }, true, 'epochs a string'],
  [{ epochs: 0 }, true, 'epochs 0'],
  [{ size: 17.5 }, true, 'size 17.5'],
  [{ unet: null }, true, 'unet null'],
  [{ unet: { depth: 9 } }, true, 'unet depth 9'],
  [{ learningRate: 0 }, true, 'learning rate 0'],
  [{ temperature: { start: -1 } }, true, 'temperature start -1'],
  [{ layout: { family: 'tile' } }, true, 'tile without its side'],
  [{ layout: { family: 'tile', tile: 32 }, size: 16 }, true, 'tile larger than the image'],
  [{ layout: { family: 'grid', block: 1_000_000_000 } }, true, 'grid block 10^9 (training would never finish)'],
  [{ layout: { family: 'grid', block: 65 }, size: 64 }, true, 'grid block larger than the image'],
  [{ seed: 4_294_967_296 }, true, 'seed 2^32 (repeats seed 0)'],
  [{ seed: 1e20 }, true, 'seed 10^20'],
  [{ seeds: 1_000_000_000 }, true, 'seeds 10^9 (a plan of 10^9 points)'],
  [{ synthetic: { slices: 1e12 } }, true, '10^12 phantom slices (memory)'],
  [{ normalisation: { kind: 'window', low: 5, high: 5 } }, true, 'empty window'],
  [{ context: { slices: 1, network: '3d' } }, true, '3d network on one slice'],
  [{ extra: 1 }, true, 'unknown key'],
  [[], true, 'an array'],
  [null, true, 'null'],
  [{}, false, 'empty (all defaults)'],
  [{ seed: 4_294_967_295, seeds: 1000 }, false, 'largest seed and seeds'],
  [{ synthetic: { slices: 10_000, slicesPerVolume: 8 } }, false, '10000 phantom slices'],
  [{ layout: { family: 'grid', block: 64 }, size: 64 }, false, 'grid block as large as the image'],
  [{ layout: { family: 'grid', granularity: 'column' } }, false, 'grid column'],
  [{ epochs: 1e6 }, false, 'a million epochs (time the user asked for)'],
];

test(`fuzz: ${CONFIG_CASES.length} experiment configs, 4 files that are no config (one of 3 GB) and one with a byte order mark`, async () => {
  const dir = join(root, 'configs');
  mkdirSync(dir, { recursive: true });
  for (const [i, [doc, defective, what]] of CONFIG_CASES.entries()) {
    const file = join(dir, `c${i}.json`);
    writeFileSync(file, JSON.stringify(doc));
    await judge({ name: `config ${i}: ${what}`, defective }, () => loadConfig(file));
  }
  writeFileSync(join(dir, 'binary.json'), Buffer.from([0, 1, 0xff, 0xfe, 0x7b]));
  writeFileSync(join(dir, 'deep.json'), `${'{"unet":'.repeat(50_000)}1${'}'.repeat(50_000)}`);
  for (const [name, file] of [['binary', join(dir, 'binary.json')], ['nested 50000 deep', join(dir, 'deep.json')], ['a folder', dir]] as const) {
    await judge({ name: `config: ${name}`, defective: true }, () => loadConfig(file));
  }
  // 3 GB (sparse, no disk used): refused from its size, before a byte is read.
  const huge = join(dir, 'huge.json');
  writeFileSync(huge, '');
  truncateSync(huge, 3 * 2 ** 30);
  await judge({ name: 'config: 3 GB', defective: true }, () => {
    try {
      loadConfig(huge);
    } catch (e) {
      if (e instanceof UserError && !/3221225472 bytes, more than the \d+ a JSON file can be read as/.test(e.message)) throw new Error(`read before refused: ${e.message}`);
      throw e;
    }
  });
  rmSync(huge);
  // Saved by a Windows editor: a UTF-8 byte order mark before valid JSON.
  writeFileSync(join(dir, 'bom.json'), '\uFEFF{"epochs": 2}\r\n');
  await judge({ name: 'config: UTF-8 byte order mark', defective: false }, () => {
    if (loadConfig(join(dir, 'bom.json')).epochs !== 2) throw new Error('epochs not read');
  });
});

// --- run folders: experiment.json as eval, merge and workers read it ------------------------------

/** A record as a run writes it: today's full config, the study profile, synthetic data. */
const RECORD = clone({ kind: 'sweep', profile: studyProfile(), config: DEFAULT_CONFIG, data: { kind: 'synthetic' }, createdAt: '2026-12-03T00:00:00.000Z' }) as unknown as { [k: string]: Json };
/** Config fields added after the first records were written: a record may lack them. */
const LATE_FIELDS = ['layerLearningRate', 'keepBestEpoch', 'fixLayoutAt', 'layout', 'layoutTraining', 'augment', 'normalisation', 'fit', 'context', 'unet.outputPrior'];
const RECORD_DEFECTS = ['deleteConfig', 'configType', 'configNull', 'configRange', 'data', 'profile', 'notObject', 'valid', 'validOld', 'validFolder'] as const;

test('fuzz: 120 mutated experiment.json records (eval / merge / worker input)', async () => {
  const rng = new Rng(77);
  for (let i = 0; i < 120; i++) {
    const kind = RECORD_DEFECTS[i % RECORD_DEFECTS.length]!;
    let doc: Json = clone(RECORD);
    const rec = doc as { [k: string]: Json };
    let what: string = kind;
    switch (kind) {
      case 'deleteConfig': {
        const path = pick(rng, ['size', 'epochs', 'batchSize', 'unet', 'temperature', 'synthetic', 'seed', 'dice', 'unet.depth', 'temperature.end', 'synthetic.slices']);
        setAt(rec, `config.${path}`, undefined);
        what = `without config.${path}`;
        break;
      }
      case 'configType': {
        const path = pick(rng, ['size', 'epochs', 'batchSize', 'learningRate', 'slope', 'seed', 'unet.depth', 'unet.baseFilters', 'temperature.start', 'augment.flip', 'layout.family', 'context.slices', 'normalisation']);
        const value = pick(rng, ['32', [], true, 'NaN', { a: 1 }]);
        setAt(rec, `config.${path}`, value);
        what = `config.${path} = ${JSON.stringify(value)}`;
        break;
      }
      case 'configNull': {
        const path = pick(rng, ['unet', 'temperature', 'synthetic', 'layout', 'layoutTraining', 'augment', 'context']);
        setAt(rec, `config.${path}`, null);
        what = `config.${path} = null`;
        break;
      }
      case 'configRange': {
        const [path, value] = pick(rng, [['size', 1e9], ['size', 0], ['batchSize', 0], ['epochs', -1], ['unet.depth', 0], ['testFraction', 1], ['seed', -1], ['temperature.end', 0]] as [string, Json][]);
        setAt(rec, `config.${path}`, value);
        what = `config.${path} = ${value}`;
        break;
      }
      case 'data': {
        const value = pick(rng, [null, 'synthetic', { kind: 'weird' }, { kind: 'folder' }, { kind: 'folder', path: 7 }, { kind: 'folder', path: 'd', every: 0 }, { kind: 'folder', path: 'd', testVolumes: 'v1' }] as Json[]);
        if (value === null && rng.next() < 0.5) delete rec.data;
        else rec.data = value;
        what = `data = ${JSON.stringify(rec.data)}`;
        break;
      }
      case 'profile': {
        const [path, value] = pick(rng, [['modes', 'x'], ['modes', []], ['modes', [8]], ['nativeBits', 0], ['rule', 'round'], ['rows', '512'], ['budget', null]] as [string, Json][]);
        setAt(rec, `profile.${path}`, value);
        what = `profile.${path} = ${JSON.stringify(value)}`;
        break;
      }
      case 'notObject':
        doc = pick(rng, [[], null, 'record', 3]);
        what = `record = ${JSON.stringify(doc)}`;
        break;
      case 'valid':
        break;
      case 'validOld': {
        // A folder recorded before the late options existed.
        for (const f of LATE_FIELDS) if (rng.next() < 0.6) setAt(rec, `config.${f}`, undefined);
        what = 'without some late config fields';
        break;
      }
      case 'validFolder':
        rec.data = { kind: 'folder', path: 'data/covid', skipBad: false, testVolumes: ['v01'], volumeStarts: [0, 40], every: 2, split: 'volume', limits: { maxPixels: 1000 } };
        setAt(rec, 'config.size', pick(rng, [8, 2048])); // records keep what --size allowed (1..65536 until 2026-12-03), the config schema 16..1024
        what = 'folder data';
        break;
    }
    const d = join(root, `record${i}`);
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, 'experiment.json'), JSON.stringify(doc));
    await judge({ name: `record ${i}: ${what}`, defective: !kind.startsWith('valid') }, () => readExperimentRecord(d));
  }
});

// --- the real CLI process, a handful --------------------------------------------------------------

test('fuzz through the CLI process: bad CRC folder, NaN vox_offset volume, mistyped profile, eval of a record without config.unet', async () => {
  const png = join(root, 'png2'); // a bitDepth case of the folder fuzz above: defective
  const nii = join(root, 'cli-nii');
  mkdirSync(join(nii, 'ct'), { recursive: true });
  mkdirSync(join(nii, 'covid'), { recursive: true });
  const img = encodeNifti1([4, 4, 2], new Int16Array(32));
  new DataView(img.buffer).setFloat32(108, NaN, true);
  writeFileSync(join(nii, 'ct', 'a.nii'), img);
  writeFileSync(join(nii, 'covid', 'a.nii'), encodeNifti1([4, 4, 2], new Uint8Array(32)));
  const profile = join(root, 'cli-profile.json');
  writeFileSync(profile, JSON.stringify({ ...SHIPPED[0], geometry: { rows: '512', cols: 512 } }));
  const run = join(root, 'cli-run');
  mkdirSync(join(run, 'runs'), { recursive: true });
  const record = clone(RECORD) as { config: { [k: string]: Json } };
  delete record.config.unet;
  writeFileSync(join(run, 'experiment.json'), JSON.stringify(record));
  const cases: [string, string[], RegExp][] = [
    ['png folder, bad bit depth', ['data', 'inspect', png], /bit depth \d+ is invalid/],
    ['eval, record without config.unet', ['eval', '--run', run, '--backend', 'cpu'], /cli-run\/experiment\.json: \/config\/unet: required field is missing/],
    ['nifti, NaN vox_offset', ['data', 'inspect', nii], /a\.nii: header vox_offset NaN/],
    ['profile, rows a string', ['profile', 'validate', profile], /\/geometry\/rows/],
  ];
  for (const [name, args, message] of cases) {
    await judge({ name: `cli: ${name}`, defective: true }, () => {
      const r = runCli(args, { timeoutMs: CLI_MS });
      if (r.code === -1) throw new Error(`${name}: timed out`);
      const lines = r.stderr.trimEnd().split('\n');
      if (r.code === 0) return;
      if (lines.length !== 1 || /^\s+at /m.test(r.stderr) || !message.test(r.stderr)) throw new Error(`${name}: exit ${r.code}, stderr: ${r.stderr}`);
      throw new UserError(lines[0]!);
    }, CLI_MS);
  }
});

test('fuzz totals: ≥ 300 cases, 0 stack traces, 0 hangs, 0 wrongly accepted, 0 wrongly refused', () => {
  const show = (list: string[]) => list.slice(0, 5).join('\n');
  assert.ok(outcome.cases >= 300, `${outcome.cases} cases`);
  assert.equal(outcome.stackTraces.length, 0, `stack traces:\n${show(outcome.stackTraces)}`);
  assert.equal(outcome.hangs.length, 0, `hangs:\n${show(outcome.hangs)}`);
  assert.equal(outcome.wronglyAccepted.length, 0, `wrongly accepted:\n${show(outcome.wronglyAccepted)}`);
  assert.equal(outcome.wronglyRefused.length, 0, `wrongly refused:\n${show(outcome.wronglyRefused)}`);
  process.stdout.write(`  fuzz: ${outcome.cases} cases, 0 stack traces, 0 hangs, 0 wrongly accepted\n`);
});

test.after(() => rmSync(root, { recursive: true, force: true }));
test.run();
