/**
 * Output folders and merge inputs guarded before any work (src/experiments/out-folder.ts,
 * merge-check.ts), and the CLI refusing bad arguments without loading TensorFlow.js.
 * File-system checks only: nothing here trains.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { UserError } from '../src/errors.js';
import { checkDerivedOut, differences, holdsRun, prepareOutFolder, removeStaleTemps } from '../src/experiments/out-folder.js';
import { makeFolder } from '../src/util/atomic.js';
import { readManifestSplit } from '../src/report/manifest.js';
import { checkShards } from '../src/experiments/merge-check.js';
import { studyProfile } from '../src/profile/load.js';
import { resolveConfig } from '../src/config/experiment-config.js';
import { projectRoot, runCli } from './helpers/cli.js';
import { dropOutputToClosedPipes } from '../src/cli/main.js';
import { spawnSync } from 'node:child_process';

const dir = mkdtempSync(join(tmpdir(), 'ctquant-outputs-'));

function userError(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    assert.instance(e, UserError, String(e));
    return (e as UserError).format();
  }
  throw new Error('expected a UserError');
}

const settings = (epochs: number) => ({
  kind: 'train',
  profile: { ...studyProfile(32), file: 'a/profile.json' },
  config: resolveConfig({ epochs, size: 32 }),
  data: { kind: 'synthetic' },
});

function writeRecord(folder: string, record: unknown): void {
  mkdirSync(folder, { recursive: true });
  writeFileSync(join(folder, 'experiment.json'), typeof record === 'string' ? record : JSON.stringify(record));
}

test('a fresh run into a folder holding an earlier run is refused unless --overwrite (which clears it)', () => {
  const out = join(dir, 'earlier');
  writeRecord(out, settings(3));
  mkdirSync(join(out, 'checkpoints'));
  writeFileSync(join(out, 'checkpoints', 'baseline-s1.ckpt'), 'x');
  assert.ok(holdsRun(out));
  assert.match(userError(() => prepareOutFolder(out, { resume: false, overwrite: false, settings: settings(3) })), /holds an earlier run: continue it with --resume, or replace it with --overwrite/);
  assert.ok(existsSync(join(out, 'checkpoints', 'baseline-s1.ckpt')), 'the earlier checkpoints are kept');
  prepareOutFolder(out, { resume: false, overwrite: true, settings: settings(3) });
  assert.not.ok(existsSync(join(out, 'checkpoints')));
  // An empty or new folder is fine.
  prepareOutFolder(join(dir, 'new'), { resume: false, overwrite: false, settings: settings(3) });
});

test('--resume with other settings is refused naming the field; the profile file path may differ', () => {
  const out = join(dir, 'resume');
  writeRecord(out, { ...settings(6), createdAt: '2026-01-01' });
  assert.match(userError(() => prepareOutFolder(out, { resume: true, overwrite: false, settings: settings(24) })), /config\.epochs was 6, now 24/);
  prepareOutFolder(out, { resume: true, overwrite: false, settings: { ...settings(6), profile: { ...settings(6).profile, file: 'elsewhere.json' } } });
  // A sweep may add seeds or budgets to a study's folder: the kind does not change a run's numbers.
  prepareOutFolder(out, { resume: true, overwrite: false, settings: { ...settings(6), kind: settings(6).kind === 'study' ? 'sweep' : 'study' } });
  // A folder recorded before context.network existed resumes with the default network, not with 3d.
  const before = settings(6);
  writeRecord(out, { ...before, config: { ...before.config, context: { slices: 3 } } });
  const withContext = (network: '2.5d' | '3d') => ({ ...before, config: { ...before.config, context: { slices: 3, network } } });
  prepareOutFolder(out, { resume: true, overwrite: false, settings: withContext('2.5d') });
  assert.match(userError(() => prepareOutFolder(out, { resume: true, overwrite: false, settings: withContext('3d') })), /config\.context\.network was nothing, now "3d"/);
  // Likewise layoutTraining.prior: absent before, `none` now resumes; `content` is a difference.
  const withPrior = (prior: 'none' | 'content') => ({ ...before, config: { ...before.config, layoutTraining: { ...before.config.layoutTraining, prior } } });
  writeRecord(out, { ...before, config: { ...before.config, layoutTraining: { hardMask: 'relaxed', entropyWeight: 0, tvWeight: 0 } } });
  prepareOutFolder(out, { resume: true, overwrite: false, settings: withPrior('none') });
  assert.match(userError(() => prepareOutFolder(out, { resume: true, overwrite: false, settings: withPrior('content') })), /config\.layoutTraining\.prior was nothing, now "content"/);
  // A multi-level folder recorded with auto under the first prior rules trained without a prior:
  // today's auto (uniform) is a difference, none continues it; a 1-bit folder's auto still matches.
  const multiLevel = { ...before, profile: { ...before.profile, modes: [4, 2, 1] } };
  const withAuto = (s: typeof before) => ({ ...s, config: { ...s.config, layoutTraining: { ...s.config.layoutTraining, prior: 'auto' as const } } });
  writeRecord(out, withAuto(multiLevel));
  assert.match(userError(() => prepareOutFolder(out, { resume: true, overwrite: false, settings: withAuto(multiLevel) })), /config\.layoutTraining\.prior was nothing, now "auto"/);
  prepareOutFolder(out, { resume: true, overwrite: false, settings: { ...multiLevel, config: { ...multiLevel.config, layoutTraining: { ...multiLevel.config.layoutTraining, prior: 'none' } } } });
  writeRecord(out, { ...withAuto(multiLevel), layoutPriorRules: 2 });
  prepareOutFolder(out, { resume: true, overwrite: false, settings: withAuto(multiLevel) });
  writeRecord(out, withAuto(before));
  prepareOutFolder(out, { resume: true, overwrite: false, settings: withAuto(before) });
  // layoutTraining.priorShape: absent before (= ranked). It shapes a content or lesion prior only:
  // there hard is a difference; where the prior is none or uniform no run depends on it.
  const shaped = (s: typeof before, prior: 'none' | 'content' | 'auto', priorShape?: 'ranked' | 'hard') => {
    const { priorShape: _old, ...training } = s.config.layoutTraining;
    return { ...s, config: { ...s.config, layoutTraining: { ...training, prior, ...(priorShape ? { priorShape } : {}) } } };
  };
  writeRecord(out, shaped(before, 'content'));
  prepareOutFolder(out, { resume: true, overwrite: false, settings: shaped(before, 'content', 'ranked') });
  assert.match(userError(() => prepareOutFolder(out, { resume: true, overwrite: false, settings: shaped(before, 'content', 'hard') })), /config\.layoutTraining\.priorShape was nothing, now "hard"/);
  writeRecord(out, shaped(before, 'auto'));
  assert.match(userError(() => prepareOutFolder(out, { resume: true, overwrite: false, settings: shaped(before, 'auto', 'hard') })), /priorShape was nothing, now "hard"/);
  writeRecord(out, shaped(before, 'none'));
  prepareOutFolder(out, { resume: true, overwrite: false, settings: shaped(before, 'none', 'hard') });
  writeRecord(out, { ...shaped(multiLevel, 'auto'), layoutPriorRules: 2 });
  prepareOutFolder(out, { resume: true, overwrite: false, settings: shaped(multiLevel, 'auto', 'hard') });
  writeRecord(out, '');
  assert.match(userError(() => prepareOutFolder(out, { resume: true, overwrite: false, settings: settings(6) })), /experiment\.json: not valid JSON/);
  assert.equal(differences({ a: [1, 2], b: 1 }, { a: [1, 3], b: 1 }), [{ path: 'a.1', was: 2, now: 3 }]);
});

test('temp files of interrupted atomic writes are removed at the next start, a live process\'s kept', () => {
  const out = join(dir, 'temps');
  mkdirSync(join(out, 'runs'), { recursive: true });
  const dead = 2 ** 22 + 12345; // above Linux's default pid_max: no such process
  const stale = [join(out, `.experiment.json.${dead}.0.tmp`), join(out, 'runs', `.learned.json.${dead}.3.tmp`)];
  for (const f of stale) writeFileSync(f, 'half');
  const live = join(out, `.x.json.${process.ppid}.0.tmp`);
  writeFileSync(live, 'being written');
  writeFileSync(join(out, 'keep.tmp'), 'not ours');
  assert.equal(removeStaleTemps(out).sort(), stale.sort());
  assert.ok(existsSync(live));
  assert.ok(existsSync(join(out, 'keep.tmp')));
});

const record = (over: Record<string, unknown> = {}) => ({ kind: 'sweep', profile: studyProfile(32), config: resolveConfig({}), data: { kind: 'synthetic' }, createdAt: 'x', ...over });

test('merge: shards of other profiles, kept bits or quantizer rules are refused; --out equal to a shard too', () => {
  const a = join(dir, 'm-a');
  writeRecord(a, record());
  const same = join(dir, 'm-same');
  writeRecord(same, record());
  assert.is(checkShards([a, same], join(dir, 'm-out')).profile.name, 'study-8bit-1bit');
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ['m-name', { profile: { ...studyProfile(32), name: 'other' } }, /name is "other" here, "study-8bit-1bit"/],
    ['m-bits', { profile: { ...studyProfile(32), modes: [2] } }, /modes is \[2\] here, \[1\]/],
    ['m-rule', { profile: { ...studyProfile(32), rule: 'midrise' } }, /rule is "midrise"/],
  ];
  for (const [name, over, msg] of cases) {
    const b = join(dir, name);
    writeRecord(b, record(over));
    assert.match(userError(() => checkShards([a, b], join(dir, 'm-out'))), msg, name);
  }
  assert.match(userError(() => checkShards([a, same], a)), /--out is one of the shards/);
});

test('merge: shards trained with another config are refused naming the field; other seeds and a record without a late default are one experiment', () => {
  const a = join(dir, 'c-a');
  writeRecord(a, record());
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ['c-epochs', { config: resolveConfig({ epochs: 3 }) }, /c-epochs.experiment\.json: shard made with another config: baselineEpochs is 3 here, 8 in .*c-a; refusing to merge/],
    ['c-unet', { config: resolveConfig({ unet: { baseFilters: 4 } }) }, /another config: unet\.baseFilters is 4 here, 8/],
    ['c-layout', { config: resolveConfig({ layout: { family: 'grid', granularity: 'column' } }) }, /another config: layout\.family is "grid" here, "pixel"/],
  ];
  for (const [name, over, msg] of cases) {
    writeRecord(join(dir, name), record(over));
    assert.match(userError(() => checkShards([a, join(dir, name)], join(dir, 'c-out'))), msg, name);
  }
  const moreSeeds = join(dir, 'c-seeds');
  writeRecord(moreSeeds, record({ config: resolveConfig({ seed: 4, seeds: 5 }) }));
  const old = resolveConfig({}) as unknown as { context: Record<string, unknown> };
  delete old.context.network; // recorded before context.network existed: its default
  const older = join(dir, 'c-older');
  writeRecord(older, record({ config: old }));
  assert.is(checkShards([a, moreSeeds, older], join(dir, 'c-out')).profile.name, 'study-8bit-1bit');
});

test('merge: an empty experiment.json or a profile without modes is one line naming the file', () => {
  const a = join(dir, 'm-a2');
  writeRecord(a, record());
  const empty = join(dir, 'm-empty');
  writeRecord(empty, '');
  assert.match(userError(() => checkShards([a, empty], join(dir, 'o'))), /m-empty.experiment\.json: not valid JSON/);
  const noModes = join(dir, 'm-nomodes');
  writeRecord(noModes, record({ profile: { ...studyProfile(32), modes: [] } }));
  assert.match(userError(() => checkShards([a, noModes], join(dir, 'o'))), /experiment\.json: \/profile\/modes: must be a non-empty list/);
  const obj = join(dir, 'm-obj');
  writeRecord(obj, '{}');
  assert.match(userError(() => checkShards([obj], join(dir, 'o'))), /\/kind: must be a string/);
});

test('eval and merge never write into a folder holding a run (its record and report would be replaced); an earlier output of theirs may be redone', () => {
  const shard = join(dir, 'd-shard');
  writeRecord(shard, record());
  const victim = join(dir, 'd-victim');
  writeRecord(victim, record({ kind: 'train' }));
  mkdirSync(join(victim, 'runs'), { recursive: true });
  writeFileSync(join(victim, 'runs', 'learned-k1-b0.5-s1.json'), '{}');
  const before = readFileSync(join(victim, 'experiment.json'), 'utf8');
  for (const args of [['merge', shard, '--out', victim], ['eval', '--run', shard, '--out', victim, '--backend', 'cpu'], ['eval', '--run', victim, '--out', victim, '--backend', 'cpu']]) {
    const r = runCli(args);
    assert.is(r.code, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`^ctquant: .*d-victim: holds a run: ${args[0]} would replace its experiment\\.json and report; name a new --out folder\\n$`));
  }
  assert.is(readFileSync(join(victim, 'experiment.json'), 'utf8'), before, 'the run record is intact');
  // Earlier outputs of the same command, an empty folder and a new path are fine.
  const merged = join(dir, 'd-merged');
  writeRecord(merged, record({ kind: 'sweep (merged)', mergedFrom: [shard] }));
  checkDerivedOut(merged, 'merge');
  const evaluated = join(dir, 'd-eval');
  writeRecord(evaluated, record({ kind: 'eval', evaluatedFrom: shard }));
  checkDerivedOut(evaluated, 'eval');
  assert.match(userError(() => checkDerivedOut(merged, 'eval')), /holds a run/);
  mkdirSync(join(dir, 'd-empty'));
  checkDerivedOut(join(dir, 'd-empty'), 'eval');
  checkDerivedOut(join(dir, 'd-new'), 'merge');
});

test('an --out that is a file: one line naming it from train, eval and merge (was: ENOTDIR / EEXIST with a stack)', () => {
  const file = join(dir, 'out-file');
  writeFileSync(file, 'notes');
  assert.match(userError(() => prepareOutFolder(file, { resume: false, overwrite: true, settings: settings(1) })), /out-file: output folder is a file/);
  assert.match(userError(() => checkDerivedOut(file, 'merge')), /out-file: output folder is a file/);
  assert.match(userError(() => makeFolder(file)), /out-file: cannot create folder: a file of that name is in the way/);
  assert.is(readFileSync(file, 'utf8'), 'notes');
});

test("eval's check of the run's split volumes: a damaged manifest.json is one line naming it, not a silently skipped check", () => {
  const run = join(dir, 'manifest-run');
  mkdirSync(run, { recursive: true });
  assert.is(readManifestSplit(run), undefined, 'no manifest: nothing recorded to check');
  const members = { train: { volumes: ['a'], slices: ['a-1'] }, validation: { volumes: ['b'], slices: ['b-1'] }, test: { volumes: ['c'], slices: ['c-1'] } };
  const text = JSON.stringify({ tool: 'ctquant', splitMembers: members });
  writeFileSync(join(run, 'manifest.json'), text);
  assert.equal(readManifestSplit(run), members);
  writeFileSync(join(run, 'manifest.json'), JSON.stringify({ tool: 'ctquant' }));
  assert.is(readManifestSplit(run), undefined, 'a manifest written before splitMembers');
  writeFileSync(join(run, 'manifest.json'), text.slice(0, text.length - 20));
  assert.match(userError(() => readManifestSplit(run)), /manifest-run.manifest\.json: not valid JSON/);
});

test('CLI: bad arguments refused before work, one line, exit 2; --json errors are one JSON line on stdout', () => {
  const profile = join(dir, 'p.json');
  writeFileSync(profile, JSON.stringify({ name: '../../escape\u001b[31m', geometry: { rows: 32, cols: 32 }, adc: { nativeBits: 8, modes: [1] }, budget: { fraction: 0.5 } }));
  const sweepOut = join(dir, 'sweep-never');
  const s = runCli(['sweep', '--profile', profile, '--budgets', '1.5', '--out', sweepOut]);
  assert.is(s.code, 2);
  assert.is(s.stderr.trim(), 'ctquant: --budgets: expected a fraction in [0, 1], got 1.5 (profile ../../escape\\x1b[31m)');
  assert.not.ok(existsSync(sweepOut), 'nothing was written');
  const t = runCli(['train', '--profile', profile, '--budgets', '0.25', '0.75']);
  assert.is(t.code, 2);
  assert.match(t.stderr, /--budgets does not apply to train/);
  const j = runCli(['storage', '--profile', profile, '--budget', 'abc', '--json']);
  assert.is(j.code, 2);
  assert.equal(JSON.parse(j.stdout), { error: { message: '--budget: expected a number, got "abc"', exitCode: 2 } });
  const typo = runCli(['sweep', '--profile', profile, '--epoch', '2']);
  assert.match(typo.stderr, /Unknown argument: epoch \(did you mean --epochs\?\)/);
  const cmd = runCli(['sweeep']);
  assert.match(cmd.stderr, /Did you mean sweep\?/);
  const both = runCli(['train', '--profile', profile, '--resume', '--overwrite', '--out', join(dir, 'x')]);
  assert.match(both.stderr, /--resume and --overwrite exclude each other/);
  // The profile's name is printed escaped.
  const st = runCli(['storage', '--profile', profile]);
  assert.is(st.code, 0, st.stderr);
  assert.not.match(st.stdout, /\u001b/);
  assert.match(st.stdout, /escape\\x1b\[31m/);
  for (const r of [s, t, j, typo, cmd, both]) assert.not.match(r.stderr + r.stdout, /\n\s+at /);
});

test('storage on a multi-mode profile refuses a budget below its lowest mode (was: 95.8 % saving)', () => {
  const r = runCli(['storage', '--profile', 'detector-profiles/adc12-4bit-2bit.json', '--budget', '0.5']);
  assert.is(r.code, 2);
  assert.match(r.stderr, /--budget: expected bits per pixel in \[2, 12\], got 0.5/);
  const ok = runCli(['storage', '--profile', 'detector-profiles/adc12-4bit-2bit.json', '--budget', '2,6', '--json']);
  assert.is(ok.code, 0, ok.stderr);
  assert.equal((JSON.parse(ok.stdout)[0].rows as { budget: number }[]).map((r) => r.budget), [2, 6]);
});

test('non-computing commands never load TensorFlow.js', () => {
  // Node's module list as seen from inside the CLI process after the command ran.
  const probe = (args: string[]) =>
    runCli([...args], { env: { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --require ${join(dir, 'probe.cjs')}` } });
  writeFileSync(
    join(dir, 'probe.cjs'),
    "process.on('exit', () => { const fs = require('fs'); const loaded = Object.keys(require.cache).some((k) => k.includes('@tensorflow')); fs.writeSync(2, loaded ? 'TFJS-LOADED\\n' : 'TFJS-ABSENT\\n'); });\n",
  );
  for (const args of [['--help'], ['profile', 'validate', 'detector-profiles/study-8bit-1bit.json'], ['storage', '--profile', 'detector-profiles/study-8bit-1bit.json'], ['data', 'inspect', join(dir, 'no-such-folder')]]) {
    const r = probe(args);
    assert.match(r.stderr, /TFJS-ABSENT/, `${args.join(' ')}: ${r.stderr}`);
  }
});

test('output into a pipe its reader closed early (| head -c 1) is dropped: exit 0, no EPIPE stack (was: exit 1 with a stack)', () => {
  // 3000 budgets: some 400 KB of table, far past a pipe's 64 KB buffer, so writes go on after head has gone.
  const budgets = Array.from({ length: 3000 }, (_, i) => ((i + 1) / 3001).toFixed(6)).join(',');
  const cli = `'${process.execPath}' --import tsx -e "import('./src/cli/main.ts').then((m) => m.main(process.argv.slice(1)))"`;
  const errFile = join(dir, 'epipe-stderr.txt');
  const r = spawnSync('bash', ['-c', `${cli} storage --profile detector-profiles/study-8bit-1bit.json --budget ${budgets} 2>'${errFile}' | head -c 1 >/dev/null; echo "\${PIPESTATUS[0]}"`], {
    cwd: projectRoot, encoding: 'utf8', timeout: 60_000,
  });
  assert.is(r.stdout.trim(), '0', `exit status of ctquant; stderr: ${readFileSync(errFile, 'utf8')}`);
  assert.is(readFileSync(errFile, 'utf8'), '');
  // main runs many times in one test process: the guard is installed once per stream (was: a listener-leak warning after ten).
  dropOutputToClosedPipes();
  const before = process.stdout.listenerCount('error');
  for (let i = 0; i < 12; i++) dropOutputToClosedPipes();
  assert.is(process.stdout.listenerCount('error'), before);
});

test.run();
