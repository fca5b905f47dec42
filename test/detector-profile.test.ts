/** The optional `detector` section of a profile: schema and rule errors, one line each, like the rest of the profile. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { UserError } from '../src/errors.js';
import { loadDetectorSpace, scanGeometry } from '../src/detector/profile.js';
import { loadProfile } from '../src/profile/load.js';
import { projectRoot } from './helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'ctquant-detector-profile-'));
const fan = {
  beam: 'fan', channels: 185, views: 360, coverageDeg: 360, channelMm: 3.6,
  sourceToIsoMm: 570, sourceToDetectorMm: 1040, pixelMm: 2, i0: 1e5, sigmaE: 10, fullScaleCounts: 131072,
};
const good = {
  name: 'ok',
  geometry: { rows: 128, cols: 128 },
  adc: { nativeBits: 16, modes: [12], quantizer: 'midrise' },
  budget: { fraction: 0.5 },
  detector: fan,
};

function write(name: string, doc: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify(doc));
  return path;
}

function expectUserError(path: string, pointer: string, pattern: RegExp) {
  try {
    loadDetectorSpace(path);
  } catch (e) {
    assert.instance(e, UserError);
    const ue = e as UserError;
    assert.is(ue.file, path);
    assert.is(ue.pointer, pointer);
    assert.match(ue.message, pattern);
    assert.not.match(ue.message, /\n/);
    return;
  }
  assert.unreachable(`${path} was accepted`);
}

const withDetector = (d: Record<string, unknown>) => ({ ...good, detector: d });

test('the shipped fan-beam profile loads: ADC from `adc`, geometry from `detector`', () => {
  const space = loadDetectorSpace(join(projectRoot, 'detector-profiles', 'detector-fan-16bit.json'));
  assert.equal(space.adc, { nativeBits: 16, fullScaleCounts: 131072, rule: 'midrise' });
  assert.is(space.waterMu, 0.0192);
  assert.is(space.apodisation, 'shepp-logan');
  const g = scanGeometry(space.section, 128, 128);
  assert.is(g.beam, 'fan');
  assert.is(g.channels, 185);
});

test('defaults: water μ 0.0192 /mm, Shepp–Logan window; a parallel scan over 180°', () => {
  const { sourceToIsoMm: _a, sourceToDetectorMm: _b, ...rest } = fan;
  const space = loadDetectorSpace(write('par.json', withDetector({ ...rest, beam: 'parallel', coverageDeg: 180, channelMm: 2 })));
  assert.is(space.section.beam, 'parallel');
  assert.is(space.waterMu, 0.0192);
});

test('a profile without the section still loads in image space, and is refused in detector space', () => {
  const { detector: _d, ...imageOnly } = good;
  const path = write('image.json', imageOnly);
  assert.is(loadProfile(path).name, 'ok');
  expectUserError(path, '/detector', /required field is missing/);
});

test('schema: unknown key', () => expectUserError(write('u.json', withDetector({ ...fan, colour: 1 })), '/detector/colour', /unknown key "colour"/));
test('schema: beam', () => expectUserError(write('b.json', withDetector({ ...fan, beam: 'cone' })), '/detector/beam', /one of "parallel", "fan", got the string "cone"/));
test('schema: coverage', () => expectUserError(write('c.json', withDetector({ ...fan, coverageDeg: 270 })), '/detector/coverageDeg', /one of 180, 360/));
test('schema: detector rows', () => expectUserError(write('r.json', withDetector({ ...fan, detectorRows: 64 })), '/detector/detectorRows', /one of 1, got number 64/));
test('schema: I0 > 0', () => expectUserError(write('i.json', withDetector({ ...fan, i0: 0 })), '/detector/i0', /> 0, got number 0/));
test('schema: σ_e ≥ 0', () => expectUserError(write('s.json', withDetector({ ...fan, sigmaE: -1 })), '/detector/sigmaE', />= 0/));
test('schema: channels integer', () => expectUserError(write('n.json', withDetector({ ...fan, channels: 10.5 })), '/detector/channels', /expected an integer/));
test('schema: a missing field', () => {
  const { i0: _i, ...rest } = fan;
  expectUserError(write('m.json', withDetector(rest)), '/detector/i0', /required field is missing/);
});
test('rule: fan needs its distances', () => {
  const { sourceToIsoMm: _a, ...rest } = fan;
  expectUserError(write('d.json', withDetector(rest)), '/detector/sourceToIsoMm', /required field is missing \(fan beam\)/);
});
test('rule: fan covers 360°', () => expectUserError(write('f.json', withDetector({ ...fan, coverageDeg: 180 })), '/detector/coverageDeg', /360 degrees/));
test('rule: detector behind the isocentre', () =>
  expectUserError(write('o.json', withDetector({ ...fan, sourceToDetectorMm: 500 })), '/detector/sourceToDetectorMm', /more than sourceToIsoMm \(570\), got 500/));
test('rule: parallel has no source', () =>
  expectUserError(write('p.json', withDetector({ ...fan, beam: 'parallel', coverageDeg: 180 })), '/detector/sourceToIsoMm', /only a fan beam/));
test('rule: full scale below I0', () =>
  expectUserError(write('fs.json', withDetector({ ...fan, fullScaleCounts: 5e4 })), '/detector/fullScaleCounts', /at least i0 \(100000; air readings would clip\), got 50000/));

test.run();
