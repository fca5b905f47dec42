// Issue 17, data inputs and the file system: each defect found by probing has a test here.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync, gzipSync } from 'node:zlib';
import { runCliInProcess } from './helpers/cli-in-process.js';
import { loadPngFolder } from '../src/data/folder.js';
import { loadDataset } from '../src/data/load.js';
import { encodeNifti1, encodeNifti2, parseNifti, readNifti } from '../src/data/nifti.js';
import { readDicomHu } from '../src/data/scan.js';
import { readLayoutFile } from '../src/layout-io/layout-file.js';
import { encodeGreyPng, readGreyImage } from '../src/data/png.js';
import { prepareData } from '../src/experiments/data.js';
import { resolveConfig } from '../src/config/experiment-config.js';
import { loadProfile } from '../src/profile/load.js';
import { saveCheckpoint } from '../src/train/checkpoint.js';
import { injectWriteFault, writeFileAtomic } from '../src/util/atomic.js';
import { crc32 } from '../src/util/crc32.js';
import { fsUserError } from '../src/util/fs-safe.js';
import { UserError } from '../src/errors.js';
import { runCli } from './helpers/cli.js';

const root = mkdtempSync(join(tmpdir(), 'ctquant-data-inputs-'));
let counter = 0;
const png8 = (w: number, h: number, f: (i: number) => number) => encodeGreyPng(Uint8Array.from({ length: w * h }, (_, i) => f(i)), w, h);

/** A valid 8-bit folder of n pairs 8×6; `ids` adds a volumes.csv. */
async function folder(n: number, opts: { ids?: boolean } = {}): Promise<string> {
  const d = join(root, `f${counter++}`);
  mkdirSync(join(d, 'ct'), { recursive: true });
  mkdirSync(join(d, 'covid'), { recursive: true });
  for (let k = 0; k < n; k++) {
    const name = String(k).padStart(4, '0');
    writeFileSync(join(d, 'ct', `${name}.png`), await png8(8, 6, (i) => (i * 7 + k) % 256));
    writeFileSync(join(d, 'covid', `${name}.png`), await png8(8, 6, (i) => (i % 5 === 0 ? 255 : 0)));
  }
  if (opts.ids) writeFileSync(join(d, 'volumes.csv'), `file,volume\n${Array.from({ length: n }, (_, k) => `${String(k).padStart(4, '0')},p${k >> 1}`).join('\n')}\n`);
  return d;
}

async function refused(p: Promise<unknown> | (() => unknown), message: RegExp, file?: RegExp): Promise<UserError> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    if (!(e instanceof UserError)) throw e;
    assert.match(e.message, message, e.format());
    if (file) assert.match(e.file ?? '', file, e.format());
    assert.not.match(e.format(), /\n/, 'one line');
    return e;
  }
  assert.unreachable(`expected a refusal matching ${message}`);
  throw new Error('unreachable');
}

/** The CLI in-process: stdout, stderr and the exit code it set. */
const run = runCliInProcess;

const oneCleanLine = (err: string) => {
  assert.is(err.trimEnd().split('\n').length, 1, `one line: ${err}`);
  assert.not.match(err, /^\s+at /m, 'no stack trace');
  assert.not.match(err, /\x1b/, 'no raw ESC');
};

// --- patient leakage -------------------------------------------------------------------------

test('a folder without volume ids is refused by data inspect and by training data; --split slice accepts it and says so', async () => {
  const d = await folder(4);
  const r = await run('data', 'inspect', d);
  assert.is(r.code, 2);
  oneCleanLine(r.err);
  assert.match(r.err, /no volume \(patient\) ids.*--volume-starts.*volumes\.json.*--preset.*--split slice/);
  const ok = await run('data', 'inspect', d, '--split', 'slice');
  assert.is(ok.code, 0, ok.err);
  assert.match(ok.out, /volume ids: slice by slice/);

  const profile = loadProfile('detector-profiles/study-8bit-1bit.json');
  const config = { ...resolveConfig({}), size: 8, validationFraction: 0 };
  await refused(prepareData({ kind: 'folder', path: d, skipBad: false }, profile, config), /no volume \(patient\) ids/);
  const sliced = await prepareData({ kind: 'folder', path: d, skipBad: false, split: 'slice' }, profile, config);
  assert.match(sliced.splitRule, /slice by slice/);
  const withIds = await prepareData({ kind: 'folder', path: await folder(4, { ids: true }), skipBad: false }, profile, config);
  assert.match(withIds.splitRule, /^by volume \(volume map in .*volumes\.csv\)$/);
  const trainIds = new Set(withIds.split.train.slices.map((s) => s.volumeId));
  assert.ok(withIds.split.test.slices.every((s) => !trainIds.has(s.volumeId)), 'no patient on both sides');
  const synthetic = await prepareData({ kind: 'synthetic' }, profile, { ...config, size: 32, synthetic: { slices: 8, slicesPerVolume: 4 } });
  assert.match(synthetic.splitRule, /^by volume: synthetic patients of 4 slices$/);
  // Re-evaluation on other data is all test data: nothing is split, so no ids are needed.
  const allTest = await prepareData({ kind: 'folder', path: d, skipBad: false }, profile, config, { allTest: true });
  assert.is(allTest.split.test.slices.length, 4);
});

test('--validation-volumes holds out exactly those volumes for validation; test volumes, unknown ids and all volumes are refused', async () => {
  const profile = loadProfile('detector-profiles/study-8bit-1bit.json');
  const config = { ...resolveConfig({}), size: 8 };
  const d = await folder(12, { ids: true }); // volumes p0..p5, two slices each
  const source = { kind: 'folder' as const, path: d, skipBad: false, testVolumes: ['p5'] };
  const volumes = (slices: { volumeId: string }[]) => [...new Set(slices.map((s) => s.volumeId))].sort();
  for (const fold of [['p0'], ['p1', 'p3']]) {
    const { split } = await prepareData({ ...source, validationVolumes: fold }, profile, config);
    assert.equal(volumes(split.validation.slices), fold);
    assert.equal(volumes(split.test.slices), ['p5']);
    assert.equal(volumes(split.train.slices), ['p0', 'p1', 'p2', 'p3', 'p4'].filter((v) => !fold.includes(v)));
  }
  // Given ids hold even where the config asks for no validation share.
  const { split } = await prepareData({ ...source, validationVolumes: ['p2'] }, profile, { ...config, validationFraction: 0 });
  assert.equal(volumes(split.validation.slices), ['p2']);
  await refused(prepareData({ ...source, validationVolumes: ['p5'] }, profile, config), /validation volume\(s\) p5 are test volumes/);
  await refused(prepareData({ ...source, validationVolumes: ['p0', 'q9'] }, profile, config), /unknown validation volume id\(s\): q9/);
  await refused(prepareData({ ...source, validationVolumes: ['p0', 'p1', 'p2', 'p3', 'p4'] }, profile, config), /leave at least one to train on/);
  const r = await run('train', '--profile', 'detector-profiles/study-8bit-1bit.json', '--validation-volumes', 'p0');
  assert.is(r.code, 2);
  oneCleanLine(r.err);
  assert.match(r.err, /--validation-volumes names volumes of a --data folder/);
});

// --- the file system -------------------------------------------------------------------------

test('symlink loop, dangling symlink and a non-UTF-8 file name each end in one line naming the file', async () => {
  let d = await folder(2, { ids: true });
  symlinkSync(join(d, 'ct', 'loop.png'), join(d, 'ct', 'loop.png'));
  await refused(loadPngFolder(d), /symlink loop \(ELOOP\)/, /ct\/loop\.png$/);

  d = await folder(2, { ids: true });
  symlinkSync(join(d, 'nowhere.png'), join(d, 'ct', '0002.png'));
  await refused(loadPngFolder(d), /dangling symlink/, /ct\/0002\.png$/);

  d = await folder(2, { ids: true });
  writeFileSync(Buffer.concat([Buffer.from(join(d, 'ct') + '/'), Buffer.from([0x61, 0xff, 0xfe, 0x2e, 0x70, 0x6e, 0x67])]), 'x');
  await refused(loadPngFolder(d), /not valid UTF-8/, /ct$/);
  await refused(loadDataset(d), /not valid UTF-8/, /ct$/);

  // A folder that is a link loop is not "not found".
  const loopDir = join(root, `loopdir${counter++}`);
  symlinkSync(loopDir, loopDir);
  await refused(loadDataset(loopDir), /symlink loop/);
});

test('permission denied (EACCES) is a one-line UserError', async () => {
  // Errno mapping, with the error a denied open raises (tests may run as root, where chmod does not deny).
  const denied = Object.assign(new Error("EACCES: permission denied, open '/x'"), { code: 'EACCES' });
  const u = fsUserError(denied, '/data/ct', 'cannot list folder');
  assert.instance(u, UserError);
  assert.is((u as UserError).format(), '/data/ct: cannot list folder: permission denied (EACCES)');
  // The real thing where chmod bites (not as root: root reads a mode-000 folder anyway).
  if (process.getuid?.() === 0) return;
  const d = await folder(2, { ids: true });
  chmodSync(join(d, 'ct'), 0o000);
  try {
    await refused(loadPngFolder(d), /permission denied/, /ct$/);
  } finally {
    chmodSync(join(d, 'ct'), 0o755);
  }
});

test('a full disk (ENOSPC) before the first write, mid-checkpoint and in data synth: one line, exit 1, no temp file left', async () => {
  const enospc = () => Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
  // The real errno from /dev/full maps the same way.
  try {
    writeFileSync('/dev/full', 'x');
  } catch (e) {
    const u = fsUserError(e, '/dev/full', 'cannot write') as UserError;
    assert.is(u.format(), '/dev/full: cannot write: disk full (ENOSPC)');
    assert.is(u.exitCode, 1);
  }
  const out = join(root, `full${counter++}`);
  try {
    injectWriteFault((op) => (op === 'mkdir' ? enospc() : undefined));
    await refused(() => writeFileAtomic(join(out, 'runs', 'a.json'), '{}'), /cannot create folder: disk full/, /runs$/);

    const ckpt = join(out, 'ckpt.bin');
    injectWriteFault(null);
    saveCheckpoint(ckpt, { state: { step: 1 }, arrays: [{ name: 'w', shape: [2], values: new Float32Array([1, 2]) }] });
    const before = readFileSync(ckpt);
    injectWriteFault((op, path) => (op === 'write' && path === ckpt ? enospc() : undefined));
    const e = await refused(() => saveCheckpoint(ckpt, { state: { step: 2 }, arrays: [{ name: 'w', shape: [2], values: new Float32Array([3, 4]) }] }), /cannot write: disk full \(ENOSPC\)/, /ckpt\.bin$/);
    assert.is(e.exitCode, 1);
    assert.equal(readFileSync(ckpt), before, 'the previous checkpoint is intact');
    assert.equal(readdirSync(out).filter((f) => f.endsWith('.tmp')), [], 'no temp file left');

    let writes = 0;
    injectWriteFault((op) => (op === 'write' && ++writes > 3 ? enospc() : undefined));
    const r = await run('data', 'synth', '--out', join(out, 'syn'), '--n', '4', '--size', '32');
    assert.is(r.code, 1);
    oneCleanLine(r.err);
    assert.match(r.err, /^ctquant: .*syn\/(ct|covid)\/\d{4}\.png: cannot write: disk full \(ENOSPC\)/);
  } finally {
    injectWriteFault(null);
  }
});

test('a file past the 2 GiB Node reads at once is one line naming it: a DICOM slice (was: a stack trace), a layout, a PNG', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ctquant-huge-'));
  try {
    // Sparse: no disk used; readFileSync refuses it from its size with ERR_FS_FILE_TOO_LARGE, which is not an errno.
    const huge = (name: string) => {
      const file = join(dir, name);
      writeFileSync(file, '');
      truncateSync(file, 3 * 2 ** 30);
      return file;
    };
    await refused(() => readDicomHu(huge('slice.dcm')), /cannot read DICOM file: larger than the 2 GiB Node reads at once/, /slice\.dcm$/);
    await refused(() => readLayoutFile(huge('layout.ctql')), /cannot read layout file: larger than the 2 GiB/, /layout\.ctql$/);
    await refused(readGreyImage(huge('0001.png')), /cannot read image file: larger than the 2 GiB/, /0001\.png$/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a FIFO named volumes.json or given as a profile is refused at once, not read (real CLI process)', () => {
  const d = join(root, `fifo${counter++}`);
  mkdirSync(join(d, 'ct'), { recursive: true });
  mkdirSync(join(d, 'covid'), { recursive: true });
  writeFileSync(join(d, 'ct', '0000.png'), 'x');
  if (spawnSync('mkfifo', [join(d, 'volumes.json')]).status !== 0) return assert.unreachable('mkfifo failed');
  spawnSync('mkfifo', [join(d, 'profile.json')]);
  const t0 = Date.now();
  const r = runCli(['data', 'inspect', d], { timeoutMs: 20_000 });
  assert.is(r.code, 2, r.stderr);
  oneCleanLine(r.stderr);
  assert.match(r.stderr, /volumes\.json: expected a volumes file, found a FIFO/);
  const p = runCli(['profile', 'validate', join(d, 'profile.json')], { timeoutMs: 20_000 });
  assert.is(p.code, 2, p.stderr);
  assert.match(p.stderr, /profile\.json: .*FIFO/);
  assert.ok(Date.now() - t0 < 30_000, 'no hang');
});

test('newline and ESC bytes in a file name are escaped in errors and in inspect output', async () => {
  const d = await folder(2);
  writeFileSync(join(d, 'ct', 'evil\n\x1b[31mred.png'), 'not an image');
  writeFileSync(join(d, 'covid', 'evil\n\x1b[31mred.png'), 'not an image');
  const r = await run('data', 'inspect', d, '--split', 'slice');
  assert.is(r.code, 2);
  oneCleanLine(r.err);
  assert.match(r.err, /evil\\x0a\\x1b\[31mred\.png/);
  const k = await run('data', 'inspect', d, '--split', 'slice', '--skip-bad');
  assert.is(k.code, 0, k.err);
  assert.not.match(k.out, /\x1b/);
  assert.match(k.out, /evil\\x0a\\x1b/);
});

// --- sizes from headers, before decoding -------------------------------------------------------

/** A PNG from raw chunks, with correct CRCs unless a chunk says otherwise. */
function pngOf(chunks: { type: string; data: Uint8Array; badCrc?: boolean }[]): Buffer {
  const parts = [Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])];
  for (const c of chunks) {
    const head = Buffer.alloc(8);
    head.writeUInt32BE(c.data.length, 0);
    head.write(c.type, 4, 'ascii');
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE((crc32(Buffer.concat([head.subarray(4), c.data])) ^ (c.badCrc ? 1 : 0)) >>> 0, 0);
    parts.push(head, Buffer.from(c.data), crc);
  }
  return Buffer.concat(parts);
}
function ihdr(w: number, h: number, depth = 8, colour = 0): Uint8Array {
  const b = Buffer.alloc(13);
  b.writeUInt32BE(w, 0);
  b.writeUInt32BE(h, 4);
  b[8] = depth;
  b[9] = colour;
  return b;
}

test('a 16000×16000 PNG pair is refused from its header, fast and without decoding; --max-pixels sets the limit', async () => {
  const d = join(root, `huge${counter++}`);
  mkdirSync(join(d, 'ct'), { recursive: true });
  mkdirSync(join(d, 'covid'), { recursive: true });
  // Real compressed rows for the first 64 lines (a decoder would go on to inflate 256 MB).
  const rows = deflateSync(Buffer.alloc(64 * 16001));
  const huge = pngOf([{ type: 'IHDR', data: ihdr(16000, 16000) }, { type: 'IDAT', data: rows }, { type: 'IEND', data: new Uint8Array(0) }]);
  writeFileSync(join(d, 'ct', '0000.png'), huge);
  writeFileSync(join(d, 'covid', '0000.png'), huge);
  const rss0 = process.memoryUsage().rss;
  const t0 = performance.now();
  await refused(loadPngFolder(d, { split: 'slice' }), /16000×16000 = 256000000 pixels, more than --max-pixels 16777216/, /0000\.png$/);
  const ms = performance.now() - t0;
  const grew = (process.memoryUsage().rss - rss0) / 2 ** 20;
  assert.ok(ms < 2000, `refused in ${ms.toFixed(0)} ms`);
  assert.ok(grew < 200, `memory grew ${grew.toFixed(0)} MB`);
  const small = await folder(2, { ids: true });
  await refused(loadPngFolder(small, { maxPixels: 40 }), /8×6 = 48 pixels, more than --max-pixels 40/);
  const r = await run('data', 'inspect', small, '--max-pixels', '0');
  assert.is(r.code, 2);
  assert.match(r.err, /--max-pixels: expected a positive integer/);
});

test('a gzip NIfTI bomb is refused without inflating it whole; huge header dims are refused before reading data', async () => {
  // A valid 16×16×4 volume, then 256 gzip members of 16 MiB of zeros each: 4 GiB inflated, ~4 MB on disk.
  const good = encodeNifti1([16, 16, 4], new Int16Array(16 * 16 * 4));
  const zeros = gzipSync(Buffer.alloc(16 * 2 ** 20), { level: 9 });
  const bomb = Buffer.concat([gzipSync(good), ...Array.from({ length: 256 }, () => zeros)]);
  const file = join(root, 'bomb.nii.gz');
  writeFileSync(file, bomb);
  const rss0 = process.memoryUsage().rss;
  const t0 = performance.now();
  await refused(() => readNifti(file), /inflates to more than the \d+ bytes its header describes/, /bomb\.nii\.gz$/);
  const ms = performance.now() - t0;
  const grew = (process.memoryUsage().rss - rss0) / 2 ** 20;
  assert.ok(ms < 30_000, `refused in ${ms.toFixed(0)} ms`);
  assert.ok(grew < 1024, `memory grew ${grew.toFixed(0)} MB`);

  const big = encodeNifti1([4, 4, 4], new Int16Array(64));
  const v = new DataView(big.buffer);
  [3, 2048, 2048, 2048].forEach((x, i) => v.setInt16(40 + 2 * i, x, true));
  await refused(() => parseNifti(gzipSync(big), 'big.nii.gz'), /slices are 2048×2048 = 4194304 pixels|volume is 2048×2048×2048/);
  await refused(() => parseNifti(big, 'big.nii', { maxPixels: 10 }), /more than --max-pixels 10/);
  [3, 512, 512, 1025].forEach((x, i) => v.setInt16(40 + 2 * i, x, true));
  await refused(() => parseNifti(big, 'big.nii'), /512×512×1025 = 268697600 voxels, more than --max-voxels 268435456$/);
});

// --- wrongly accepted before ------------------------------------------------------------------

test('PNG: a wrong IDAT CRC and an unknown critical chunk are refused; an unknown ancillary chunk is fine', async () => {
  const good = await png8(8, 6, (i) => i);
  const file = join(root, `crc${counter++}.png`);
  // Find IDAT and corrupt one data byte (CRC left as it was).
  const at = good.indexOf(Buffer.from('IDAT'));
  const bad = Buffer.from(good);
  bad[at + 6] = bad[at + 6]! ^ 0x10;
  writeFileSync(file, bad);
  await refused(readGreyImage(file), /chunk IDAT at byte \d+ has a wrong CRC/, /crc\d+\.png$/);

  const rows = deflateSync(Buffer.alloc(6 * 9));
  const withChunk = (type: string) =>
    pngOf([{ type: 'IHDR', data: ihdr(8, 6) }, { type, data: Buffer.from('hello') }, { type: 'IDAT', data: rows }, { type: 'IEND', data: new Uint8Array(0) }]);
  writeFileSync(file, withChunk('ZZZZ'));
  await refused(readGreyImage(file), /unknown critical chunk ZZZZ/);
  writeFileSync(file, withChunk('zzZz'));
  const ok = await readGreyImage(file);
  assert.is(ok.width, 8);
});

test('NIfTI: vox_offset NaN / Inf / inside the header and voxels NaN / Inf are refused', async () => {
  const good = encodeNifti1([3, 2, 2], Float32Array.from({ length: 12 }, (_, i) => i));
  parseNifti(good, 'good.nii');
  for (const offset of [NaN, Infinity, -352, 100]) {
    const b = good.slice();
    new DataView(b.buffer).setFloat32(108, offset, true);
    await refused(() => parseNifti(b, 'off.nii'), /vox_offset .* is not a byte offset/);
  }
  for (const [value, word] of [[NaN, 'NaN'], [Infinity, 'infinite'], [-Infinity, 'infinite']] as const) {
    const data = Float32Array.from({ length: 12 }, (_, i) => i);
    data[7] = value;
    await refused(() => parseNifti(encodeNifti1([3, 2, 2], data), 'vox.nii'), new RegExp(`voxel \\(1, 0, 1\\) is ${word}`));
  }
});

test('NIfTI-2: truncated and lying headers, int64 sizes past the limits or past 2^53, vox_offset inside the 540 bytes, a damaged magic and a gzip bomb are refused in one line', async () => {
  const good = encodeNifti2([3, 2, 2], Int16Array.from({ length: 12 }, (_, i) => i));
  parseNifti(good, 'good.nii');
  const edit = (f: (v: DataView, b: Uint8Array) => void) => {
    const b = good.slice();
    f(new DataView(b.buffer), b);
    return b;
  };
  await refused(() => parseNifti(good.subarray(0, 400), 'short.nii'), /^too short for a NIfTI-2 header \(400 bytes\)$/, /short\.nii$/);
  await refused(() => parseNifti(gzipSync(good.subarray(0, 500)), 'short.nii.gz'), /^truncated gzip data: it inflates to 500 bytes, less than a NIfTI-2 header$/);
  await refused(() => parseNifti(good.subarray(0, 560), 'cut.nii'), /header says 3×2×2 int16 voxels from byte 544 \(568 bytes\) but the data has 560 bytes/);
  const lying = edit((v) => v.setBigInt64(16 + 3 * 8, 40n, true)); // dim[3] = 40 slices, the data holds 2
  for (const b of [lying, gzipSync(lying)]) await refused(() => parseNifti(b, 'lie.nii'), /header says 3×2×40 int16 voxels/);
  // int64 sizes: compared exactly, never rounded to a Number first.
  const huge = edit((v) => v.setBigInt64(16 + 8, 2n ** 62n + 1n, true));
  await refused(() => parseNifti(huge, 'huge.nii'), /^slices are 4611686018427387905×2 = 9223372036854775810 pixels, more than --max-pixels/);
  await refused(() => parseNifti(gzipSync(huge), 'huge.nii.gz'), /more than --max-pixels/);
  await refused(() => parseNifti(huge, 'huge.nii', { maxPixels: Infinity, maxVoxels: Infinity }), /^header size 4611686018427387905×2×2 is past 9007199254740991$/);
  await refused(() => parseNifti(edit((v) => v.setBigInt64(16 + 3 * 8, 1n << 40n, true)), 'deep.nii'), /volume is 3×2×1099511627776 = 6597069766656 voxels, more than --max-voxels/);
  await refused(() => parseNifti(edit((v) => v.setBigInt64(16 + 2 * 8, -(2n ** 63n), true)), 'neg.nii'), /non-positive size 3×-9223372036854775808×2/);
  await refused(() => parseNifti(edit((v) => v.setBigInt64(16, 2n ** 32n + 3n, true)), 'dim0.nii'), /^header dim\[0\] = 4294967299, expected 2\.\.7$/);
  await refused(() => parseNifti(edit((v) => v.setInt16(12, 1536, true)), 'type.nii'), /^unsupported NIfTI datatype 1536$/);
  // 352 would be fine in a NIfTI-1; here it points into the 540-byte header.
  for (const offset of [352n, -544n, 2n ** 62n]) {
    await refused(() => parseNifti(edit((v) => v.setBigInt64(168, offset, true)), 'off.nii'), new RegExp(`^header vox_offset ${offset} is not a byte offset after the 540-byte header$`));
  }
  // A text-mode transfer turning \r\n into \n; a two-file header (ni2, data in a separate .img).
  await refused(() => parseNifti(edit((_, b) => b.set([0x0a, 0x0a], 8)), 'text.nii'), /NIfTI-2 magic "n\+2\\x00\\x0a\\x0a\\x1a\\x0a" should be "n\+2\\x00\\x0d\\x0a\\x1a\\x0a"/);
  await refused(() => parseNifti(edit((_, b) => (b[5] = 0x69)), 'pair.nii'), /^unsupported NIfTI magic "ni2" \(only single-file n\+2\)$/);
  // Gzip members of zeros after a valid NIfTI-2: refused once past what the header describes.
  const bomb = Buffer.concat([gzipSync(good), ...Array.from({ length: 8 }, () => gzipSync(Buffer.alloc(2 ** 20)))]);
  await refused(() => parseNifti(bomb, 'bomb.nii.gz'), /inflates to more than the 568 bytes its header describes/);
});

test('NIfTI-2: scl_slope 0 or NaN means no scaling, as in NIfTI-1', () => {
  const raw = Int16Array.from({ length: 12 }, (_, i) => 3 * i - 7);
  for (const slope of [0, NaN]) {
    const one = parseNifti(encodeNifti1([3, 2, 2], raw, { slope, intercept: 5 }), 'one.nii');
    const two = parseNifti(encodeNifti2([3, 2, 2], raw, { slope, intercept: 5 }), 'two.nii');
    assert.equal(Array.from(two.data), Array.from(raw, (x) => x + 5));
    assert.equal(two.data, one.data);
  }
});

test.after(() => {
  injectWriteFault(null);
  rmSync(root, { recursive: true, force: true });
  assert.ok(!existsSync(root));
});
test.run();
