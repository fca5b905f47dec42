import { mkdtempSync, readdirSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { UserError } from '../src/errors.js';
import { loadProfile, studyProfile } from '../src/profile/load.js';
import { storageReport, storageRow } from '../src/profile/storage.js';
import { projectRoot, runCli } from './helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'ctquant-profile-'));
const good = {
  name: 'ok',
  geometry: { rows: 4, cols: 4 },
  adc: { nativeBits: 8, modes: [1], quantizer: 'floor' },
  budget: { fraction: 0.5 },
};

function write(name: string, doc: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, typeof doc === 'string' ? doc : JSON.stringify(doc));
  return path;
}

function expectUserError(path: string, pointer: string | undefined, pattern: RegExp) {
  try {
    loadProfile(path);
  } catch (e) {
    assert.instance(e, UserError);
    const ue = e as UserError;
    assert.is(ue.file, path);
    if (pointer !== undefined) assert.is(ue.pointer, pointer);
    assert.match(ue.message, pattern);
    return;
  }
  assert.unreachable(`${path} was accepted`);
}

test('every shipped example profile validates', () => {
  const files = readdirSync(join(projectRoot, 'detector-profiles')).filter((f) => f.endsWith('.json'));
  assert.ok(files.length >= 3);
  for (const f of files) {
    const p = loadProfile(join(projectRoot, 'detector-profiles', f));
    assert.ok(p.rows > 0 && p.cols > 0 && p.modes.every((m) => m < p.nativeBits), f);
  }
});

test('a valid profile loads with its fields', () => {
  const p = loadProfile(write('good.json', good));
  assert.equal(p.budget, { kind: 'fraction', value: 0.5 });
  assert.is(p.rule, 'floor');
  assert.equal(p.modes, [1]);
});

test('missing file', () => expectUserError(join(dir, 'absent.json'), undefined, /file not found/));
test('not JSON', () => expectUserError(write('notjson.json', '{ "name": '), undefined, /not valid JSON/));
test('wrong type', () =>
  expectUserError(write('type.json', { ...good, adc: { ...good.adc, nativeBits: 'eight' } }), '/adc/nativeBits', /expected an integer, got the string "eight"/));
test('unknown key', () => expectUserError(write('unknown.json', { ...good, colour: 'red' }), '/colour', /unknown key "colour"/));
test('budget above 1', () => expectUserError(write('b1.json', { ...good, budget: { fraction: 1.5 } }), '/budget/fraction', /<= 1, got number 1.5/));
test('budget below 0', () => expectUserError(write('b0.json', { ...good, budget: { fraction: -0.1 } }), '/budget/fraction', />= 0/));
test('sweep budget outside [0, 1]', () =>
  expectUserError(write('sw.json', { ...good, budget: { fraction: 0.5, sweep: [0.2, 1.2] } }), '/budget/sweep/1', /\[0, 1\]/));
test('kept bits >= native bits', () =>
  expectUserError(write('kept.json', { ...good, adc: { nativeBits: 8, modes: [8] } }), '/adc/modes/0', /below nativeBits \(8\), got 8/));
test('geometry <= 0', () => expectUserError(write('geo.json', { ...good, geometry: { rows: 0, cols: 4 } }), '/geometry/rows', />= 1, got number 0/));
test('missing required field', () => expectUserError(write('req.json', { ...good, adc: { nativeBits: 8 } }), '/adc/modes', /required/));
test('several modes need bitsPerPixel', () =>
  expectUserError(write('multi.json', { ...good, adc: { nativeBits: 12, modes: [4, 2] } }), '/budget/fraction', /bitsPerPixel/));
test('bitsPerPixel outside the modes range', () =>
  expectUserError(write('bpp.json', { ...good, adc: { nativeBits: 12, modes: [4, 2] }, budget: { bitsPerPixel: 13 } }), '/budget/bitsPerPixel', /\[2, 12\]/));
test('a folder instead of a file', () => {
  const sub = join(dir, 'folder.json');
  mkdirSync(sub, { recursive: true });
  expectUserError(sub, undefined, /found a folder/);
});

test('storage: the study profile at budget 0.5 saves 43.75% (4.5 of 8 bits)', () => {
  const [row] = storageReport(studyProfile(), [0.5]);
  assert.is(row!.savingPercentExact, '175/4');
  assert.is(row!.savingPercent, 43.75);
  assert.is(row!.layoutBitsPerPixelExact, '9/2');
  assert.is(row!.layoutBitsPerFrame, 512 * 512 * 4.5);
  assert.is(row!.quantizedPixels, 131072);
});

test('storage: round(b·n) quantized pixels, exact integers, no float drift', () => {
  const p = { ...studyProfile(3, 3) };
  const row = storageRow(p, 'fraction', 0.1); // 0.9 pixels -> 1
  assert.is(row.quantizedPixels, 1);
  assert.is(row.layoutBitsPerFrame, 8 * 8 + 1);
  assert.is(row.layoutBitsPerPixelExact, '65/9');
  const zero = storageRow(p, 'fraction', 0);
  assert.is(zero.savingPercent, 0);
  const all = storageRow(p, 'fraction', 1);
  assert.is(all.savingPercentExact, '175/2');
});

test('storage: bits-per-pixel budgets of a multi-mode profile', () => {
  const p = loadProfile(join(projectRoot, 'detector-profiles', 'adc12-4bit-2bit.json'));
  const row = storageRow(p, 'bitsPerPixel', 6);
  assert.is(row.savingPercent, 50);
  assert.is(row.compressionRatio, 2);
});

test('cli: storage reports 43.75% for the study profile, as a table and as JSON', () => {
  const file = join(projectRoot, 'detector-profiles', 'study-8bit-1bit.json');
  const table = runCli(['storage', '--profile', file, '--budget', '0.5']);
  assert.is(table.code, 0, table.stderr);
  assert.match(table.stdout, /43\.75/);
  const json = runCli(['storage', '--profile', file, '--budget', '0.5', '--json']);
  assert.is(json.code, 0, json.stderr);
  const parsed = JSON.parse(json.stdout) as { rows: { savingPercent: number }[] }[];
  assert.is(parsed[0]!.rows[0]!.savingPercent, 43.75);
});

test('cli: a bad profile exits 2 with one line and no stack trace', () => {
  const bad = write('cli-bad.json', { ...good, budget: { fraction: 2 } });
  const r = runCli(['profile', 'validate', bad]);
  assert.is(r.code, 2);
  assert.match(r.stderr, /\/budget\/fraction/);
  assert.not.match(r.stderr, /at .*\.ts:\d+/);
  assert.is(r.stderr.trim().split('\n').length, 1);
  const ok = runCli(['profile', 'validate', join(projectRoot, 'detector-profiles', 'study-8bit-1bit.json')]);
  assert.is(ok.code, 0, ok.stderr);
});

test('cli: a missing profile in storage exits 2 naming the file', () => {
  const r = runCli(['storage', '--profile', join(dir, 'nope.json')]);
  assert.is(r.code, 2);
  assert.match(r.stderr, /nope\.json: detector profile: file not found/);
});

test.run();
