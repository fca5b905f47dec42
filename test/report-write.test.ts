import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import sharp from 'sharp';
import { writeReport } from '../src/report/write.js';
import { manifestProblems, type Manifest } from '../src/report/manifest.js';
import { readLayoutFile } from '../src/layout-io/layout-file.js';
import { mergeRuns } from '../src/runs/store.js';
import type { ExampleInput } from '../src/report/examples.js';
import { fixtureRuns, profile } from './report-fixtures.js';

const root = mkdtempSync(join(tmpdir(), 'ctquant-report-'));
const outDir = join(root, 'study-1');

function examples(): ExampleInput[] {
  const rows = 32;
  const cols = 32;
  return [0, 1].map((k) => {
    const image = new Float32Array(rows * cols);
    const mask = new Uint8Array(rows * cols);
    const prediction = new Uint8Array(rows * cols);
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        const i = r * cols + c;
        image[i] = Math.hypot(r - 16, c - 16) < 13 ? 30000 + 500 * ((r + c) % 7) : 800;
        mask[i] = Math.hypot(r - 14 - k, c - 17) < 4 ? 1 : 0;
        prediction[i] = Math.hypot(r - 15 - k, c - 18) < 4 ? 1 : 0;
      }
    }
    return { image, mask, prediction, rows, cols, nativeBits: 16, title: `phantom ${k}` };
  });
}

let files: string[] = [];
let manifest: Manifest;

test.before(async () => {
  // A checkpoint the experiment wrote before the report: the manifest must list it.
  mkdirSync(join(outDir, 'checkpoints'), { recursive: true });
  writeFileSync(join(outDir, 'checkpoints', 'learned-b0.5-s0.ckpt'), 'weights');
  const runs = fixtureRuns().map((r) => (r.id === 'learned-b0.5-s0' ? { ...r, checkpoint: 'checkpoints/learned-b0.5-s0.ckpt' } : r));
  files = await writeReport(outDir, {
    runs, profile, config: { size: 4, epochs: 3 }, examples: examples(),
    meta: { kind: 'study', seconds: 12.5, tfjsVersion: '4.22.0', createdAt: '2025-01-02T03:04:05.000Z', data: 'fixture folder', split: 'by volume (volume map in volumes.json)' },
    tables: { bootstrapSeed: 11, bootstrapResamples: 500 },
  });
  manifest = JSON.parse(readFileSync(join(outDir, 'manifest.json'), 'utf8')) as Manifest;
});

test.after(() => rmSync(root, { recursive: true, force: true }));

test('writes every output and returns the list, manifest last', () => {
  for (const f of ['tradeoff.csv', 'study.csv', 'storage.csv', 'runs.csv', 'layout.csv', 'layout.ctql', 'report.html',
    'map-probability.png', 'map-threshold-0.3.png', 'map-threshold-0.7.png', 'map-hardware.png',
    'plot-dice-vs-budget.png', 'plot-dice-vs-bits.png', 'plot-training.png', 'plot-examples.png', 'runs/learned-b0.5-s3.json']) {
    assert.ok(files.includes(f), `${f} listed`);
    assert.ok(existsSync(join(outDir, f)), `${f} exists`);
  }
  assert.is(files[files.length - 1], 'manifest.json');
});

test('manifest validates against the schema (and an independent ajv), hashes match the files', () => {
  assert.equal(manifestProblems(manifest), []);
  assert.is(manifest.split, 'by volume (volume map in volumes.json)', 'the split rule is recorded');
  assert.match(readFileSync(join(outDir, 'report.html'), 'utf8'), /Data: fixture folder · split: by volume \(volume map in volumes\.json\)/);
  const schema = JSON.parse(readFileSync(new URL('../schemas/manifest.schema.json', import.meta.url), 'utf8'));
  const validate = new Ajv2020({ strict: true, allErrors: true }).compile(schema);
  assert.ok(validate(manifest), JSON.stringify(validate.errors));
  assert.is(manifest.runId, 'study-1');
  assert.is(manifest.kind, 'study');
  assert.equal(manifest.seeds, [0, 1, 2, 3]);
  assert.is(manifest.backend, 'wasm');
  assert.is(manifest.versions.tfjs, '4.22.0');
  assert.is(manifest.versions.node, process.version);
  assert.is(manifest.timings.totalSeconds, 12.5);
  assert.is(manifest.timings.trainSecondsTotal, 54);
  assert.equal(manifest.runs.collapsed, ['all-pixels-baseline-k4-s0', 'learned-b0.5-s3']);
  for (const f of manifest.files) {
    const bytes = readFileSync(join(outDir, f.path));
    assert.is(f.bytes, bytes.length, f.path);
    assert.is(f.sha256, createHash('sha256').update(bytes).digest('hex'), f.path);
  }
  const ckpt = manifest.files.find((f) => f.path === 'checkpoints/learned-b0.5-s0.ckpt');
  assert.is(ckpt?.description, 'model checkpoint of run learned-b0.5-s0');
  // The schema does catch a broken manifest.
  const broken = { ...manifest, files: [{ path: '../x', bytes: -1, sha256: 'zz', description: '' }] };
  assert.ok(manifestProblems(broken).length > 0);
  assert.ok(manifestProblems({ ...manifest, versions: { node: 'v20' } }).some((p) => p.pointer.startsWith('/versions')));
});

test('layout.ctql holds the same bits as layout.csv; runs merge back from the folder', () => {
  const layout = readLayoutFile(join(outDir, 'layout.ctql'));
  const csv = readFileSync(join(outDir, 'layout.csv'), 'utf8').trim().split('\n').slice(1);
  assert.is(csv.length, profile.rows * profile.cols);
  assert.equal(Array.from(layout.bits), csv.map((line) => Number(line.split(',')[3])));
  assert.is(mergeRuns([outDir]).length, fixtureRuns().length);
});

test('figures are real PNGs of a legible size', async () => {
  for (const f of ['plot-dice-vs-budget.png', 'map-probability.png', 'plot-examples.png']) {
    const meta = await sharp(join(outDir, f)).metadata();
    assert.is(meta.format, 'png', f);
    assert.ok((meta.width ?? 0) >= 500 && (meta.height ?? 0) >= 300, `${f} is ${meta.width}×${meta.height}`);
  }
});

test('report.html is self-contained and states the headline', () => {
  const html = readFileSync(join(outDir, 'report.html'), 'utf8');
  assert.not.match(html, /(src|href)\s*=\s*["']?(https?:|\/\/)/i);
  assert.not.match(html, /<link\b/i);
  assert.match(html, /Content-Security-Policy/);
  assert.is((html.match(/<img /g) ?? []).length, 8);
  assert.match(html, /The learned layout beats the random control at: 50% of pixels on the 8-bit ADC/);
  assert.match(html, /class="collapsed"/);
  // The fixture's learned and multi-level runs carry no prior or family: how each was made is said under the headline.
  assert.match(html, /Learned layouts: one cell per pixel, started at p ≈ ½ everywhere, trained with relaxed-Bernoulli masks; one cell per pixel, started from random level probabilities, trained with Gumbel-softmax level choices\./);
});

// Headless Chromium: the page loads with no console messages, no errors, and every image decodes.
function findChromium(): string | undefined {
  if (process.env.CHROMIUM) return process.env.CHROMIUM;
  for (const dir of ['/usr/bin', ...(process.env.PATH ?? '').split(delimiter)]) {
    for (const name of ['chromium', 'chromium-browser']) if (existsSync(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

const chromium = findChromium();
if (!chromium && process.env.CI === 'true') {
  test('report renders in headless Chromium', () => {
    assert.unreachable('Chromium not found (install Debian\'s `chromium`, or set CHROMIUM=/path/to/chromium): needed on CI to check report.html');
  });
} else {
  (chromium ? test : test.skip)('report renders in headless Chromium (skipped without chromium outside CI)', () => {
    const profileDir = join(root, 'chrome-profile');
    const res = spawnSync(chromium!, [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', `--user-data-dir=${profileDir}`, '--enable-logging=stderr', '--v=0',
      '--dump-dom', `file://${join(outDir, 'report.html')}`,
    ], { encoding: 'utf8', timeout: 90_000, maxBuffer: 64 * 1024 * 1024 });
    assert.is(res.status, 0, `chromium exited ${res.status}: ${res.error?.message ?? res.stderr.slice(-500)}`);
    const root_ = /<html[^>]*>/.exec(res.stdout)?.[0] ?? '';
    assert.match(root_, /data-images-ok="true"/, `not every image decoded: ${root_}`);
    assert.match(root_, /data-images="8"/);
    assert.match(root_, /data-errors="0"/);
    const console_ = res.stderr.split('\n').filter((l) => /:CONSOLE[:(\]]/.test(l));
    assert.equal(console_, [], 'no console messages');
  });
}

test.run();
