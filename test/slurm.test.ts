/**
 * The README's Slurm recipe on a real Slurm (a one-node cluster from Debian's slurm-wlm and
 * munge, test/helpers/slurm.ts): a sweep submitted as a job array, one shard per task, one task
 * preempted mid-training with `scontrol requeue` (Slurm sends SIGTERM, ctquant checkpoints and
 * exits; the requeued task runs the same script again with --resume), `ctquant merge` of the
 * shard folders, and the merged runs and tradeoff.csv equal to an unsharded sweep of the same seed.
 * Skipped (SKIPPED line) without Slurm or root; under CI=true a missing Slurm fails.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { projectRoot, runCli } from './helpers/cli.js';
import { writeTinyConfig, writeTinyProfile } from './helpers/experiment-files.js';
import { arrayTasks, reportMissingSlurm, slurmMissing, startSlurmCluster, waitFor, type SlurmCluster } from './helpers/slurm.js';

const SHARDS = 4;
/** The whole test's bound; CI gives 2 cores. */
const TEST_LIMIT_MS = 210_000;

const dir = mkdtempSync(join(tmpdir(), 'ctquant-slurm-'));
const profile = writeTinyProfile(dir, 'slurm-tiny', { fraction: 0.5, sweep: [0.25, 0.75] });
// Five trainings (baseline, learned and random at two budgets) of a few seconds each: long
// enough to preempt one mid-training, short enough for 2 cores.
const config = writeTinyConfig(dir, { epochs: 5, baseFilters: 8, slices: 48, slicesPerVolume: 4 });
// The learned layout and the random control only: the plan (5 trainings, 4 shards) this test times its preemption by.
const sweepArgs = ['sweep', '--profile', profile, '--config', config, '--backend', 'wasm', '--families', 'none'];

/** Run records without wall-clock fields (trainSeconds, each epoch's seconds): the rest, losses and Dice included, must be bit-identical. */
const runsOf = (out: string) =>
  readdirSync(join(out, 'runs'))
    .sort()
    .map((f) => {
      const record = JSON.parse(readFileSync(join(out, 'runs', f), 'utf8')) as { trainSeconds?: number; history?: { seconds?: number }[] };
      delete record.trainSeconds;
      for (const epoch of record.history ?? []) delete epoch.seconds;
      return record;
    });

/** `ctquant <args>` from the sources as a child process, without blocking the event loop (the cluster is polled meanwhile). */
function cliAsync(args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(projectRoot, 'src/cli/entry.ts'), ...args], { cwd: projectRoot, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code: code ?? -1, stderr }));
  });
}

/**
 * The README's job script, one shard per array task. `exec`: node is the job's process and gets
 * Slurm's SIGTERM itself; --resume makes a requeued task continue from its checkpoints.
 */
function jobScript(): string {
  const argv = [process.execPath, '--import', 'tsx', 'src/cli/entry.ts', ...sweepArgs];
  const quoted = argv.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  return [
    '#!/bin/sh',
    `exec ${quoted} \\`,
    `  --shard "$SLURM_ARRAY_TASK_ID/${SHARDS}" --out "${dir}/shard-$SLURM_ARRAY_TASK_ID" --resume`,
    '',
  ].join('\n');
}

const why = slurmMissing();
if (why) {
  reportMissingSlurm('slurm', why);
} else {
  test('Slurm job array: a preempted shard resumes, and the merged shards equal the unsharded sweep', async () => {
    const t0 = Date.now();
    const left = () => TEST_LIMIT_MS - (Date.now() - t0);
    // Started first, it runs beside the array (the cluster offers 2 CPUs; the machine may have 2 cores).
    const whole = join(dir, 'whole');
    const unsharded = cliAsync([...sweepArgs, '--out', whole]);
    let cluster: SlurmCluster | undefined;
    try {
      cluster = await startSlurmCluster(join(dir, 'cluster'), { cpus: 2 });
      const script = join(dir, 'sweep-job.sh');
      writeFileSync(script, jobScript(), { mode: 0o755 });
      const log = (task: number) => join(dir, `shard-${task}.log`);
      const readLog = (task: number) => (existsSync(log(task)) ? readFileSync(log(task), 'utf8') : '');
      // append: a requeued task's second run adds to its log instead of replacing it.
      const job = cluster
        .run('sbatch', ['--parsable', `--array=1-${SHARDS}`, '--job-name=ctquant-sweep', `--chdir=${projectRoot}`, `--output=${dir}/shard-%a.log`, '--open-mode=append', script])
        .trim()
        .split(';')[0]!;

      // Task 1 runs the baseline first (points 1 and 5 of the plan): preempt it mid-training.
      await waitFor('shard 1 to be training', () => /\[1\/2\] baseline-s1[\s\S]*epoch 1\/5 loss/.test(readLog(1)), left());
      cluster.run('scontrol', ['requeue', `${job}_1`]);
      await waitFor('shard 1 to be requeued', () => arrayTasks(cluster!, job).find((t) => t.task === 1)?.state === 'PENDING', left());
      // Slurm holds a requeued job back (Reason=BeginTime) for minutes; release it now.
      cluster.run('scontrol', ['update', `jobid=${job}_1`, 'StartTime=now']);

      const finished = (s: string) => !['PENDING', 'RUNNING', 'CONFIGURING', 'COMPLETING', 'REQUEUED', 'REQUEUE_FED', 'RESIZING', 'SUSPENDED'].includes(s);
      await waitFor(`the ${SHARDS} array tasks to end`, () => arrayTasks(cluster!, job).every((t) => finished(t.state)), left());
      const tasks = arrayTasks(cluster, job);
      const logs = () => Array.from({ length: SHARDS }, (_, i) => `--- shard ${i + 1}\n${readLog(i + 1).slice(-1500)}`).join('\n');
      assert.equal(
        tasks.map((t) => [t.task, t.state, t.exitCode]),
        Array.from({ length: SHARDS }, (_, i) => [i + 1, 'COMPLETED', '0:0']),
        logs(),
      );
      assert.is(tasks[0]!.restarts, 1, 'task 1 ran twice');

      // The first run of task 1 stopped on SIGTERM after a step and checkpointed; the second resumed from it mid-baseline.
      const first = readLog(1);
      assert.match(first, /CANCELLED AT .* DUE TO JOB REQUEUE/, first);
      assert.match(first, /SIGTERM: stopping after the current step/, first);
      assert.match(first, /stopped: 0 run\(s\) finished; continue with --resume/, first);
      assert.match(first, /resumed from \S*baseline-s1\.ckpt at epoch [1-5], step \d+/, first);
      for (let i = 2; i <= SHARDS; i++) assert.not.match(readLog(i), /SIGTERM|resumed from/, `shard ${i} was not preempted`);

      const merged = join(dir, 'merged');
      const m = runCli(['merge', ...Array.from({ length: SHARDS }, (_, i) => join(dir, `shard-${i + 1}`)), '--out', merged]);
      assert.is(m.code, 0, m.stderr);
      const u = await unsharded;
      assert.is(u.code, 0, u.stderr);
      assert.equal(runsOf(merged), runsOf(whole));
      assert.is(readFileSync(join(merged, 'tradeoff.csv'), 'utf8'), readFileSync(join(whole, 'tradeoff.csv'), 'utf8'));
      console.log(`slurm: array of ${SHARDS} with one preemption, merge and the unsharded sweep in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    } catch (e) {
      console.error(`--- cluster logs\n${cluster?.logs() ?? '(not started)'}`);
      throw e;
    } finally {
      await cluster?.stop();
      await unsharded;
    }
  });
}

test.run();
