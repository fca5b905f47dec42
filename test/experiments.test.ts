import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { projectRoot, runCli } from './helpers/cli.js';
import { writeTinyConfig, writeTinyProfile } from './helpers/experiment-files.js';
import { workersHint } from '../src/experiments/session.js';
import { installStopHandler, isStopRequested, nodeOptionsOf, stopExitCode } from '../src/experiments/runner.js';
import { loadConfig } from '../src/config/experiment-config.js';

const dir = mkdtempSync(join(tmpdir(), 'ctquant-exp-'));
const profile = writeTinyProfile(dir, 'tiny', { fraction: 0.5, sweep: [0.5] });
const config = writeTinyConfig(dir, { epochs: 1, baseFilters: 4, slices: 16, slicesPerVolume: 2 });
const common = ['--profile', profile, '--config', config, '--backend', 'wasm'];

const runsOf = (out: string) =>
  readdirSync(join(out, 'runs'))
    .sort()
    .map((f) => {
      const r = JSON.parse(readFileSync(join(out, 'runs', f), 'utf8'));
      return { id: r.id, dice: r.dice, collapsed: r.collapsed, probabilityMap: r.probabilityMap, hardwareLayout: r.hardwareLayout };
    });

test('sweep: two shards merged give the same tables as the unsharded sweep', () => {
  const whole = join(dir, 'whole');
  const r = runCli(['sweep', ...common, '--out', whole]);
  assert.is(r.code, 0, r.stderr);
  for (const f of ['tradeoff.csv', 'storage.csv', 'manifest.json', 'report.html', 'experiment.json']) assert.ok(existsSync(join(whole, f)), f);
  const ids = readdirSync(join(whole, 'runs')).sort();
  // The baseline also evaluates every pixel at each kept-bits level (setup a: uniform designs).
  const uniform = [1, 2, 3, 4, 5, 6, 7].map((k) => `all-pixels-baseline-k${k}-s1.json`);
  // The fixed families run next to the random control by default (--families).
  assert.equal(ids, [
    ...uniform, 'baseline-s1.json', 'blue-noise-k1-b0.5-s1.json', 'content-k1-b0.5-s1.json', 'dither-k1-b0.5-s1.json',
    'learned-k1-b0.5-s1.json', 'lesion-k1-b0.5-s1.json', 'random-k1-b0.5-s1.json',
  ]);

  for (const i of [1, 2]) {
    const s = runCli(['sweep', ...common, '--shard', `${i}/2`, '--out', join(dir, `shard${i}`)]);
    assert.is(s.code, 0, s.stderr);
  }
  const merged = join(dir, 'merged');
  const m = runCli(['merge', join(dir, 'shard1'), join(dir, 'shard2'), '--out', merged]);
  assert.is(m.code, 0, m.stderr);
  assert.equal(runsOf(merged), runsOf(whole));
  assert.is(readFileSync(join(merged, 'tradeoff.csv'), 'utf8'), readFileSync(join(whole, 'tradeoff.csv'), 'utf8'));
});

test('--workers 2: the workers read their task from experiment.json and give the runs and tables of one process', () => {
  const whole = join(dir, 'whole');
  const out = join(dir, 'workers');
  const r = runCli(['sweep', ...common, '--workers', '2', '--out', out]);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stderr, /\[worker 2\/2\]/);
  assert.equal(runsOf(out), runsOf(whole));
  assert.is(readFileSync(join(out, 'tradeoff.csv'), 'utf8'), readFileSync(join(whole, 'tradeoff.csv'), 'utf8'));
  const record = JSON.parse(readFileSync(join(out, 'experiment.json'), 'utf8'));
  assert.is(record.backend, 'wasm');
  assert.is(record.kind, 'sweep');
});

test('--workers above the number of trainings starts one per training: train has one, so it runs in this process', () => {
  const out = join(dir, 'train-workers');
  const r = runCli(['train', ...common, '--workers', '3', '--out', out]);
  assert.is(r.code, 0, r.stderr);
  assert.not.match(r.stderr, /\[worker|worker processes/);
  assert.ok(existsSync(join(out, 'runs', 'learned-k1-b0.5-s1.json')));
});

test('a run whose memory estimate exceeds the machine is refused in one line before its folder is made (was: the OOM killer)', () => {
  const huge = join(dir, 'huge-batch.json');
  // 512² at batch 100000: terabytes of activations on any machine (the cpu backend: wasm's own 4 GiB cap would speak first).
  writeFileSync(huge, JSON.stringify({ size: 512, batchSize: 100000, unet: { depth: 2, baseFilters: 4 }, synthetic: { slices: 16, slicesPerVolume: 2 } }));
  const out = join(dir, 'never-made');
  const r = runCli(['train', '--profile', profile, '--config', huge, '--backend', 'cpu', '--out', out]);
  assert.is(r.code, 2, r.stderr);
  assert.match(r.stderr, /^ctquant: --size 512, batch size 100000, base filters 4, 16 slices need about [\d.]+ GB per training process = [\d.]+ GB of memory, more than this machine's [\d.]+ GB: lower --size, --workers or the config's batchSize\n$/);
  assert.not.ok(existsSync(out));
  // Phantoms are 32..512 a side: other sizes of synthetic data are refused before the folder is made (was: a RangeError crash, exit 7).
  for (const size of ['16', '1000']) {
    const phantom = runCli(['train', ...common, '--size', size, '--out', out]);
    assert.is(phantom.code, 2, phantom.stderr);
    assert.match(phantom.stderr, new RegExp(`^ctquant: --size ${size}: the synthetic phantoms are 32 to 512 pixels a side; give --data for other sizes\\n$`));
    assert.not.ok(existsSync(out));
  }
  // On wasm a step past its 4 GiB heap is refused whatever the machine's memory (was: "memory access out of bounds", exit 7).
  const wide = join(dir, 'wide.json');
  writeFileSync(wide, JSON.stringify({ size: 512, batchSize: 8, unet: { depth: 4, baseFilters: 16 }, synthetic: { slices: 16, slicesPerVolume: 2 } }));
  const heap = runCli(['train', '--profile', profile, '--config', wide, '--backend', 'wasm', '--out', out]);
  assert.is(heap.code, 2, heap.stderr);
  assert.match(heap.stderr, /^ctquant: --size 512, batch size 8, base filters 16: a training step needs about [\d.]+ GB, more than the 4\.0 GB the wasm backend can address/);
  assert.not.ok(existsSync(out));
  // --size beyond the config schema's 1024 is refused as a flag.
  const big = runCli(['train', ...common, '--size', '2048', '--out', out]);
  assert.is(big.code, 2, big.stderr);
  assert.match(big.stderr, /--size: expected an integer in \[1, 1024\], got 2048/);
});

test('workers get Node\'s flags of the parent, not its inline script', () => {
  assert.equal(nodeOptionsOf(['--import', 'tsx', '-e', 'import("x")']), ['--import', 'tsx']);
  assert.equal(nodeOptionsOf(['--eval=1', '--max-old-space-size=4096', '-p', '2']), ['--max-old-space-size=4096']);
});

test('a worker refuses a folder whose experiment.json it cannot run', () => {
  const out = join(dir, 'merged'); // kind "sweep (merged)"
  const r = runCli(['worker', out, '--shard', '1/2']);
  assert.is(r.code, 2, r.stderr);
  assert.match(r.stderr, /experiment\.json.*a worker runs train, study, sweep, demo/);
});

test('eval: a saved run re-evaluates from its checkpoints to the same Dice on its own test split', () => {
  const whole = join(dir, 'whole');
  const out = join(dir, 'eval');
  const r = runCli(['eval', '--run', whole, '--backend', 'wasm', '--out', out, '--json']);
  assert.is(r.code, 0, r.stderr);
  const before = runsOf(whole).map((x) => [x.id, x.dice.mean]);
  const after = (JSON.parse(r.stdout).runs as { id: string; dice: number }[]).map((x) => [x.id, x.dice]);
  assert.equal(after, before);
});

/** Starts `train … --epochs 3 --out out`, sends `signal` once epoch 1 is logged; the exit code and stderr. */
async function trainAndSignal(out: string, signal: NodeJS.Signals): Promise<{ code: number; err: string; sent: boolean }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(projectRoot, 'src/cli/entry.ts'), 'train', ...common, '--epochs', '3', '--out', out],
    { cwd: projectRoot, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let err = '';
  let sent = false;
  const code = await new Promise<number>((resolve) => {
    child.stderr.on('data', (d) => {
      err += d;
      if (!sent && /epoch 1\/3 loss/.test(err)) {
        sent = true;
        child.kill(signal);
      }
    });
    child.on('close', (c) => resolve(c ?? -1));
  });
  return { code, err, sent };
}

test('Ctrl-C stops after the current step, leaves a checkpoint, and --resume finishes', async () => {
  const out = join(dir, 'interrupted');
  const { code, err, sent } = await trainAndSignal(out, 'SIGINT');
  assert.ok(sent, `never saw a progress line:\n${err}`);
  assert.is(code, 130, err);
  assert.match(err, /resume/);
  assert.ok(readdirSync(join(out, 'checkpoints')).some((f) => f.endsWith('.ckpt')));
  const r = runCli(['train', ...common, '--epochs', '3', '--out', out, '--resume']);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stderr, /resumed from/);
  assert.ok(existsSync(join(out, 'report.html')));
});

test('SIGTERM (how schedulers stop a job) checkpoints like Ctrl-C, exits 143, and --resume ends where an uninterrupted run does', async () => {
  const out = join(dir, 'terminated');
  const { code, err, sent } = await trainAndSignal(out, 'SIGTERM');
  assert.ok(sent, `never saw a progress line:\n${err}`);
  assert.is(code, 143, err);
  assert.match(err, /SIGTERM: stopping after the current step/);
  assert.ok(readdirSync(join(out, 'checkpoints')).some((f) => f.endsWith('.ckpt')));
  // Rerunning without --resume would delete those checkpoints: refused, and they stay.
  const again = runCli(['train', ...common, '--epochs', '3', '--out', out]);
  assert.is(again.code, 2, again.stderr);
  assert.match(again.stderr, /holds an earlier run: continue it with --resume, or replace it with --overwrite/);
  assert.ok(readdirSync(join(out, 'checkpoints')).some((f) => f.endsWith('.ckpt')));
  // Resuming with other settings is refused, naming the field.
  const other = runCli(['train', ...common, '--epochs', '4', '--out', out, '--resume']);
  assert.is(other.code, 2, other.stderr);
  assert.match(other.stderr, /config\.baselineEpochs was 3, now 4; config\.epochs was 3, now 4/);
  const r = runCli(['train', ...common, '--epochs', '3', '--out', out, '--resume']);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stderr, /resumed from/);
  const whole = join(dir, 'uninterrupted');
  const u = runCli(['train', ...common, '--epochs', '3', '--out', whole]);
  assert.is(u.code, 0, u.stderr);
  assert.equal(runsOf(out), runsOf(whole));
  // A zero-byte run file (a crash outside an atomic write) makes --resume say so in one line.
  const runFile = join(out, 'runs', readdirSync(join(out, 'runs'))[0]!);
  writeFileSync(runFile, '');
  const broken = runCli(['train', ...common, '--epochs', '3', '--out', out, '--resume']);
  assert.is(broken.code, 2, broken.stderr);
  assert.match(broken.stderr, /runs\/[^ ]+\.json: not valid JSON/);
  assert.not.match(broken.stderr, /\n\s+at /);
  assert.is(readFileSync(join(out, 'runs.csv'), 'utf8').replace(/,[\d.]+,wasm.*$/gm, ''), readFileSync(join(whole, 'runs.csv'), 'utf8').replace(/,[\d.]+,wasm.*$/gm, ''));
});

test('SIGHUP (a closed terminal) stops like Ctrl-C: exit code 129; a copy within a second is the same event', async () => {
  const lines: string[] = [];
  installStopHandler((l) => lines.push(l));
  assert.not.ok(isStopRequested());
  process.kill(process.pid, 'SIGHUP');
  await new Promise((r) => setTimeout(r, 50));
  process.kill(process.pid, 'SIGHUP'); // a forwarded copy: must not quit this process
  await new Promise((r) => setTimeout(r, 50));
  assert.ok(isStopRequested());
  assert.is(stopExitCode(), 129);
  assert.equal(lines, ['SIGHUP: stopping after the current step (again to quit now); resume with --resume']);
});

test('a single process on webgpu with several runs gets the --workers tip; other cases do not', () => {
  assert.match(workersHint('webgpu', 14) ?? '', /--workers 4/);
  assert.match(workersHint('webgpu', 3) ?? '', /--workers 3/);
  assert.is(workersHint('webgpu', 1), null);
  assert.is(workersHint('wasm', 14), null);
  assert.is(workersHint('tensorflow', 14), null);
});

test('bad flags: one line, exit 2', () => {
  const a = runCli(['sweep', ...common, '--shard', '3/2']);
  assert.is(a.code, 2);
  assert.match(a.stderr, /--shard: expected i\/n/);
  const b = runCli(['study', ...common, '--resume']);
  assert.is(b.code, 2);
  assert.match(b.stderr, /--resume needs --out/);
  const c = runCli(['train', '--profile', join(dir, 'missing.json')]);
  assert.is(c.code, 2);
  assert.match(c.stderr, /missing\.json: detector profile: file not found/);
  const badConfig = join(dir, 'bad-config.json');
  writeFileSync(badConfig, JSON.stringify({ epochs: 0, colour: 1 }));
  const d = runCli(['train', '--profile', profile, '--config', badConfig]);
  assert.is(d.code, 2);
  assert.match(d.stderr, /bad-config\.json: \/(epochs|colour)/);
});

test('the shipped recipes in configs/ are valid configs', () => {
  const files = readdirSync(join(projectRoot, 'configs')).filter((f) => f.endsWith('.json'));
  assert.ok(files.length >= 3, `configs/: ${files.join(', ')}`);
  for (const f of files) {
    const config = loadConfig(join(projectRoot, 'configs', f));
    assert.ok(config.epochs >= 1 && config.baselineEpochs >= 1, f);
  }
  const full = loadConfig(join(projectRoot, 'configs', 'covid-ct-20-256-full.json'));
  assert.equal([full.size, full.baselineEpochs, full.epochs], [256, 6, 8]);
});

test.run();
