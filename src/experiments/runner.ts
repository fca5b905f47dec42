import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { makeFolder } from '../util/atomic.js';
import { fileURLToPath } from 'node:url';
import type { DetectorProfile } from '../profile/types.js';
import { createProgress } from '../util/progress.js';
import type { ExperimentConfig } from '../config/experiment-config.js';
import { shardPoints, type PlanPoint } from './plan.js';
import { runPoint, type SplitData } from './run-point.js';
import { runsFolder } from '../runs/store.js';
import type { RunResult } from '../runs/types.js';
import type { JointModel } from '../train/joint.js';
import { UserError } from '../errors.js';

export interface ExecuteOptions {
  profile: DetectorProfile;
  config: ExperimentConfig;
  data: SplitData;
  points: PlanPoint[];
  outDir: string;
  backend: string;
  resume: boolean;
  shard?: { index: number; count: number };
  /** Plain log lines instead of a bar. */
  plain: boolean;
  log: (line: string) => void;
  onTrained?: (point: PlanPoint, model: JointModel) => Promise<void> | void;
}

/**
 * The signals that stop a training cleanly: Ctrl-C, and SIGTERM / SIGHUP, which schedulers
 * (Slurm on preemption, time limit or scancel; Kubernetes) and closed terminals send first.
 * Exit code 128 + the signal's number (130, 143, 129).
 */
export const STOP_SIGNALS = { SIGINT: 2, SIGTERM: 15, SIGHUP: 1 } as const;
type StopSignal = keyof typeof STOP_SIGNALS;

/** A signal this soon after the first is the same event (a scheduler signalling every process, a forwarded copy), not a second one. */
const SAME_EVENT_MS = 1000;

/** Set by the first stop signal: runs stop after the current step and checkpoint; a second signal exits at once. */
let stopSignal: { name: StopSignal; at: number } | null = null;
const workerProcesses = new Set<ChildProcess>();
export function installStopHandler(log: (line: string) => void): void {
  for (const name of Object.keys(STOP_SIGNALS) as StopSignal[]) {
    process.removeAllListeners(name);
    process.on(name, () => {
      // Worker processes get every signal (Kubernetes signals only the main process).
      for (const w of workerProcesses) w.kill(name);
      if (stopSignal) {
        if (Date.now() - stopSignal.at > SAME_EVENT_MS) process.exit(128 + STOP_SIGNALS[name]);
        return;
      }
      stopSignal = { name, at: Date.now() };
      log(`${name}: stopping after the current step (again to quit now); resume with --resume`);
    });
  }
}
export const isStopRequested = () => stopSignal !== null;
/** The exit code of a run stopped by a signal: 128 + its number (130 when none was seen). */
export const stopExitCode = () => 128 + STOP_SIGNALS[stopSignal?.name ?? 'SIGINT'];

/** Runs the plan's points (this shard's), each into outDir/runs; returns whether it was stopped. */
export async function executePoints(opts: ExecuteOptions): Promise<{ stopped: boolean; results: RunResult[] }> {
  makeFolder(runsFolder(opts.outDir));
  const points = opts.shard ? shardPoints(opts.points, opts.shard) : opts.points;
  const results: RunResult[] = [];
  for (const [i, point] of points.entries()) {
    opts.log(`[${i + 1}/${points.length}] ${point.id}`);
    const { results: r, stopped } = await runPoint(
      {
        profile: opts.profile,
        config: opts.config,
        data: opts.data,
        outDir: opts.outDir,
        backend: opts.backend,
        resume: opts.resume,
        progress: (label, total) => createProgress({ label, total, plain: opts.plain }),
        shouldStop: isStopRequested,
        onTrained: opts.onTrained,
      },
      point,
    );
    if (stopped) return { stopped: true, results };
    for (const run of r) {
      const flag = run.collapsed ? `  COLLAPSED: ${run.collapseReason}` : '';
      opts.log(`  ${run.id}: Dice ${run.dice.mean.toFixed(3)} (pooled ${run.dice.pooled.toFixed(3)})${flag}`);
    }
    results.push(...r);
  }
  return { stopped: false, results };
}

/** Node's own flags of this process (e.g. `--import tsx`) without a script given inline (`-e`, `-p`): the workers run the entry file. */
export function nodeOptionsOf(execArgv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const a = execArgv[i]!;
    if (['-e', '--eval', '-p', '--print'].includes(a)) i++;
    else if (!/^(--eval|--print)=/.test(a)) out.push(a);
  }
  return out;
}

/**
 * Runs the experiment recorded in `outDir`/experiment.json as `workers` child processes of this CLI
 * (`ctquant worker <outDir> --shard i/workers`), in parallel: one process per core, because a wasm
 * backend runs one thread per process. Each worker reads its task from the record, not from flags.
 */
export async function runWorkers(outDir: string, workers: number, log: (line: string) => void): Promise<{ stopped: boolean }> {
  const here = fileURLToPath(import.meta.url);
  const ext = here.endsWith('.ts') ? '.ts' : '.js';
  const sibling = fileURLToPath(new URL(`../cli/entry${ext}`, import.meta.url));
  // In a one-file bundle (the GPU machine's, bench/gpu-pack.sh) there is no sibling: the bundle is the entry.
  const entry = existsSync(sibling) ? sibling : process.argv[1]!;
  const codes = await Promise.all(
    Array.from({ length: workers }, (_, i) =>
      new Promise<number>((resolve) => {
        const child = spawn(process.execPath, [...nodeOptionsOf(process.execArgv), entry, 'worker', outDir, '--shard', `${i + 1}/${workers}`], {
          stdio: ['ignore', 'pipe', 'pipe'],
          env: process.env,
        });
        workerProcesses.add(child);
        const prefix = `[worker ${i + 1}/${workers}] `;
        const relay = (chunk: Buffer) => {
          for (const line of chunk.toString().split('\n')) if (line.trim()) log(prefix + line.replace(/\r/g, ''));
        };
        child.stdout.on('data', relay);
        child.stderr.on('data', relay);
        child.on('close', (code) => {
          workerProcesses.delete(child);
          resolve(code ?? 1);
        });
      }),
    ),
  );
  // A stop signal reaches the workers too: each checkpoints and exits 128 + n; that is a stop, not a failure.
  if (isStopRequested()) return { stopped: true };
  const bad = codes.findIndex((c) => c !== 0);
  if (bad >= 0) throw new UserError(`worker ${bad + 1} of ${workers} failed with exit code ${codes[bad]} (its messages are above)`, { exitCode: codes[bad]! });
  return { stopped: false };
}
