/**
 * A detector-space sweep through the CLI, end to end and tiny (32² phantoms, 24 channels × 12 views,
 * one epoch): report.html shows the detector figures and numbers, storage.csv counts the detector
 * frame (views × channels readings) rather than image pixels, manifest.json describes detector/.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runCli } from './helpers/cli.js';
import { writeTinyConfig } from './helpers/experiment-files.js';

const dir = mkdtempSync(join(tmpdir(), 'ctquant-detector-report-'));
const CHANNELS = 24;
const VIEWS = 12;
const NATIVE = 12;
const KEPT = 3;
const profile = join(dir, 'detector.json');
writeFileSync(
  profile,
  JSON.stringify({
    name: 'tiny-detector-report',
    geometry: { rows: 32, cols: 32 },
    adc: { nativeBits: NATIVE, modes: [KEPT], quantizer: 'midrise' },
    budget: { fraction: 0.5, sweep: [0.5] },
    detector: { beam: 'parallel', channels: CHANNELS, views: VIEWS, coverageDeg: 180, channelMm: 3, pixelMm: 2, i0: 20000, sigmaE: 5, fullScaleCounts: 32768 },
  }),
);
const config = writeTinyConfig(dir, { epochs: 1, baseFilters: 4, slices: 16, slicesPerVolume: 2 });
const out = join(dir, 'out');

const csvRows = (text: string) => {
  const [head, ...lines] = text.trim().split('\n');
  const cols = head!.split(',');
  return lines.map((l) => Object.fromEntries(l.split(',').map((v, i) => [cols[i]!, v])));
};

test('detector-space sweep: report.html embeds the detector figures and tables, storage.csv counts the detector frame', () => {
  const r = runCli(['sweep', '--profile', profile, '--config', config, '--backend', 'wasm', '--out', out], { timeoutMs: 300_000 });
  assert.is(r.code, 0, r.stderr);

  const storage = csvRows(readFileSync(join(out, 'storage.csv'), 'utf8'));
  const baseline = storage.find((s) => s.row === 'baseline')!;
  assert.ok(baseline, 'a baseline row');
  assert.is(Number(baseline.native_bits_per_frame), VIEWS * CHANNELS * NATIVE);
  assert.is(Number(baseline.layout_bits_per_frame), VIEWS * CHANNELS * NATIVE);
  const half = storage.find((s) => s.budget === '0.5')!;
  assert.is(Number(half.reduced_channels), CHANNELS / 2);
  assert.is(Number(half.layout_bits_per_frame), VIEWS * ((CHANNELS / 2) * NATIVE + (CHANNELS / 2) * KEPT));
  assert.not.ok('pixels' in baseline, 'no image-pixel columns in detector space');

  const html = readFileSync(join(out, 'report.html'), 'utf8');
  for (const f of ['detector/bits-per-channel.png', 'detector/sinograms.png', 'detector/reconstructions.png', 'detector/reconstruction-error.json', 'detector/channel-flux.json'])
    assert.ok(html.includes(f), f);
  assert.ok(html.indexOf('id="decision"') < html.indexOf('id="detector"'), 'the decision stays first');
  // The three figures are embedded, not linked: each caption sits under a data-URI image.
  assert.is((html.match(/<figure><img alt="[^"]*" src="data:image\/png;base64,[^"]+"><figcaption>[^<]*<span class="file">detector\//g) ?? []).length, 3);
  assert.match(html, /Storage per detector frame/);
  assert.match(html, new RegExp(`<td>${VIEWS * CHANNELS * NATIVE}</td>`));

  const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as { files: { path: string; description: string }[] };
  const described = (p: string) => manifest.files.find((f) => f.path === p)?.description ?? '';
  for (const f of ['detector/bits-per-channel.png', 'detector/sinograms.png', 'detector/reconstructions.png', 'detector/reconstruction-error.json', 'detector/channel-flux.csv', 'detector/storage.json'])
    assert.ok(described(f) && described(f) !== 'file found in the output folder', f);
  console.log(`report: ${join(out, 'report.html')}`);
});

test.run();
