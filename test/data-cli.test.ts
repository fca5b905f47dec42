import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCliInProcess } from './helpers/cli-in-process.js';
import { encodeNifti1 } from '../src/data/nifti.js';
import { mkdirSync } from 'node:fs';

const root = mkdtempSync(join(tmpdir(), 'ctquant-data-cli-'));

/** The CLI in-process: stdout, stderr and the exit code it set. */
const run = runCliInProcess;

test('data synth writes ct/, covid/, volumes.json and a preview; inspect reads them back', async () => {
  const dir = join(root, 'syn');
  const preview = join(root, 'sheet.png');
  const w = await run('data', 'synth', '--out', dir, '--n', '6', '--size', '32', '--seed', '3', '--native-bits', '10', '--preview', preview);
  assert.is(w.code, 0, w.err);
  assert.match(w.out, /wrote 6 slices 32×32 at 10 bits/);
  assert.ok(existsSync(join(dir, 'ct', '0005.png')) && existsSync(join(dir, 'covid', '0005.png')));
  assert.is(JSON.parse(readFileSync(join(dir, 'volumes.json'), 'utf8')).nativeBits, 10);
  assert.ok(readFileSync(preview).subarray(1, 4).toString() === 'PNG');
  const r = await run('--json', 'data', 'inspect', dir);
  assert.is(r.code, 0, r.err);
  const s = JSON.parse(r.out);
  assert.is(s.slices, 6);
  assert.is(s.nativeBits, 10);
  assert.is(s.volumes, 2);
  assert.ok(s.valueRange[1] <= 1023);
  const again = await run('data', 'synth', '--out', dir, '--n', '2', '--size', '32');
  assert.is(again.code, 2);
  assert.match(again.err, /--force/);
});

test('data synth of more phantoms than the machine can hold is refused in one line before anything is made (was: the OOM killer)', async () => {
  const dir = join(root, 'too-many');
  // 1,000,000 slices of 512²: 1.2 TB, all held until written.
  const r = await run('data', 'synth', '--out', dir, '--n', '1000000', '--size', '512');
  assert.is(r.code, 2, r.err);
  assert.match(r.err, /^ctquant: --n 1000000 slices of 512×512 need about [\d.]+ GB of memory, more than this machine's [\d.]+ GB: lower --n or --size\n$/);
  assert.not.ok(existsSync(dir));
});

test('data inspect prints the orientation NIfTI records; --orient canonical applies it', async () => {
  const dir = join(root, 'nii-orient');
  mkdirSync(join(dir, 'ct'), { recursive: true });
  mkdirSync(join(dir, 'covid'), { recursive: true });
  const sform: [number[], number[], number[]] = [[-1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]];
  writeFileSync(join(dir, 'ct', 'p1.nii'), encodeNifti1([4, 3, 2], new Int16Array(24), { sform }));
  writeFileSync(join(dir, 'covid', 'p1.nii'), encodeNifti1([4, 3, 2], new Uint8Array(24), { sform }));
  const plain = await run('data', 'inspect', dir);
  assert.is(plain.code, 0, plain.err);
  assert.match(plain.out, /orientation: columns→L rows→P \(nifti sform\)\n/);
  const r = await run('--json', 'data', 'inspect', dir, '--orient', 'canonical');
  assert.is(r.code, 0, r.err);
  assert.is(JSON.parse(r.out).orientation, 'columns→L rows→P (nifti sform), made canonical (columns→L rows→P)');
});

test('data inspect: bad input is one line naming the file, exit 2; --skip-bad reports skips', async () => {
  const dir = join(root, 'bad');
  await run('data', 'synth', '--out', dir, '--n', '3', '--size', '32');
  writeFileSync(join(dir, 'ct', '0001.png'), 'oops');
  const r = await run('data', 'inspect', dir);
  assert.is(r.code, 2);
  assert.match(r.err, /^ctquant: .*ct\/0001\.png: not a readable image/);
  assert.is(r.err.trim().split('\n').length, 1);
  const k = await run('data', 'inspect', dir, '--skip-bad');
  assert.is(k.code, 0, k.err);
  assert.match(k.out, /skipped 1 file/);
  const v = await run('data', 'inspect', dir, '--volume-starts', '0,x');
  assert.is(v.code, 2);
  assert.match(v.err, /--volume-starts/);
});

test.after(() => rmSync(root, { recursive: true, force: true }));
test.run();
