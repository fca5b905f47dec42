/**
 * A throw-away one-node Slurm cluster for tests: munged, slurmctld and slurmd from Debian's
 * `munge` and `slurm-wlm` packages (scripts/system-deps.sh), all state in one temp folder, on
 * free local ports, without cgroups (proctrack/linuxproc, task/none), so it runs in a plain
 * container as root. Every daemon is a child of the test process and is stopped by stop().
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { hostname } from 'node:os';
import { delimiter, join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

/** Daemons live in /usr/sbin, which a non-login PATH may lack. */
const SEARCH_PATH = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/bin', '/sbin'].filter(Boolean);
const PROGRAMS = ['munged', 'mungekey', 'slurmctld', 'slurmd', 'sbatch', 'scontrol', 'scancel', 'sinfo', 'squeue'] as const;

function which(program: string): string | undefined {
  return SEARCH_PATH.map((d) => join(d, program)).find((p) => existsSync(p));
}

/** Why this machine cannot run the cluster, or null when it can. */
export function slurmMissing(): string | null {
  const absent = PROGRAMS.filter((p) => !which(p));
  if (absent.length) return `${absent.join(', ')} not installed: run scripts/system-deps.sh (Debian: apt-get install slurm-wlm munge)`;
  // slurmd starts jobs as their owner: only root can, outside a real installation.
  if (process.getuid?.() !== 0) return 'slurmd must run as root (CI runs the suite as root)';
  return null;
}

/**
 * Without Slurm: under CI a failing test (CI installs it, so its absence is a broken set-up),
 * elsewhere a loud `SKIPPED <what> tests: <why>` line, counted by test/run.mjs.
 */
export function reportMissingSlurm(what: string, why: string): void {
  if (process.env.CI === 'true') test(`${what} needs Slurm`, () => assert.unreachable(why));
  else console.warn(`SKIPPED ${what} tests: ${why}`);
}

/** A TCP port nobody listens on now (the kernel's choice). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

export interface SlurmCluster {
  /** Environment for the client commands (SLURM_CONF, PATH with /usr/sbin). */
  env: NodeJS.ProcessEnv;
  /** Runs a client command (sbatch, scontrol, …); throws with its stderr when it fails. */
  run(program: string, args: string[]): string;
  /** The daemons' logs, for a failing test's message. */
  logs(): string;
  /** Cancels every job and stops the daemons (SIGTERM, then SIGKILL after 10 s). */
  stop(): Promise<void>;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits for `ready()` to be true, polling every 250 ms; throws `what` after `timeoutMs`. */
export async function waitFor(what: string, ready: () => boolean, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!ready()) {
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await sleep(250);
  }
}

function slurmConf(o: { dir: string; node: string; cpus: number; ctldPort: number; slurmdPort: number }): string {
  return [
    'ClusterName=ctquant-test',
    `SlurmctldHost=${o.node}(127.0.0.1)`,
    `SlurmctldPort=${o.ctldPort}`,
    `SlurmdPort=${o.slurmdPort}`,
    'SlurmUser=root',
    'SlurmdUser=root',
    'AuthType=auth/munge',
    'CredType=cred/munge',
    `AuthInfo=socket=${join(o.dir, 'munge.socket')}`,
    `StateSaveLocation=${join(o.dir, 'state')}`,
    `SlurmdSpoolDir=${join(o.dir, 'spool')}`,
    `SlurmctldPidFile=${join(o.dir, 'slurmctld.pid')}`,
    `SlurmdPidFile=${join(o.dir, 'slurmd.pid')}`,
    `SlurmctldLogFile=${join(o.dir, 'slurmctld.log')}`,
    `SlurmdLogFile=${join(o.dir, 'slurmd.log')}`,
    // No cgroups: a container has no delegated cgroup tree.
    'ProctrackType=proctrack/linuxproc',
    'TaskPlugin=task/none',
    'JobAcctGatherType=jobacct_gather/none',
    'AccountingStorageType=accounting_storage/none',
    'JobCompType=jobcomp/none',
    'SwitchType=switch/none',
    'MpiDefault=none',
    // One CPU per array task, so `cpus` tasks run at once.
    'SelectType=select/cons_tres',
    'SelectTypeParameters=CR_CPU',
    'SchedulerType=sched/builtin',
    'ReturnToService=2',
    // SIGTERM, then SIGKILL this many seconds later: the time a job has to checkpoint.
    'KillWait=30',
    // Finished jobs stay visible to `scontrol show job` for the test's checks.
    'MinJobAge=600',
    'SlurmctldTimeout=30',
    'SlurmdTimeout=30',
    'InactiveLimit=0',
    `NodeName=${o.node} NodeAddr=127.0.0.1 CPUs=${o.cpus} RealMemory=1 State=UNKNOWN`,
    `PartitionName=test Nodes=${o.node} Default=YES MaxTime=INFINITE State=UP`,
    '',
  ].join('\n');
}

/**
 * Starts munged, slurmctld and slurmd with their state in `dir` and waits until the node is idle.
 * `cpus`: CPUs the node offers (at most the machine's). Throws with the daemons' logs if the
 * cluster is not up within `timeoutMs`.
 */
export async function startSlurmCluster(dir: string, opts: { cpus: number; timeoutMs?: number }): Promise<SlurmCluster> {
  for (const sub of ['state', 'spool']) mkdirSync(join(dir, sub), { recursive: true, mode: 0o700 });
  const node = hostname().split('.')[0]!;
  const conf = join(dir, 'slurm.conf');
  writeFileSync(conf, slurmConf({ dir, node, cpus: opts.cpus, ctldPort: await freePort(), slurmdPort: await freePort() }));
  const env: NodeJS.ProcessEnv = { ...process.env, SLURM_CONF: conf, PATH: SEARCH_PATH.join(delimiter) };
  const children: ChildProcess[] = [];
  const daemonOutput: string[] = [];
  const daemon = (program: string, args: string[]) => {
    const child = spawn(which(program)!, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (d) => daemonOutput.push(`${program}: ${d}`));
    child.stderr!.on('data', (d) => daemonOutput.push(`${program}: ${d}`));
    children.push(child);
  };
  const readLog = (f: string) => (existsSync(join(dir, f)) ? readFileSync(join(dir, f), 'utf8') : '');
  const logs = () => [daemonOutput.join(''), readLog('munged.log'), readLog('slurmctld.log'), readLog('slurmd.log')].join('\n').slice(-6000);

  // A key of this cluster only; munged refuses keys others can read.
  const key = join(dir, 'munge.key');
  const made = spawnSync(which('mungekey')!, ['--create', '--keyfile', key], { encoding: 'utf8' });
  if (made.status !== 0) throw new Error(`mungekey failed: ${made.stderr}`);
  // --force: munged warns (and otherwise stops) when run as root or with a socket outside /run/munge.
  daemon('munged', ['--foreground', '--force', `--key-file=${key}`, `--socket=${join(dir, 'munge.socket')}`, `--pid-file=${join(dir, 'munged.pid')}`, `--log-file=${join(dir, 'munged.log')}`, `--seed-file=${join(dir, 'munged.seed')}`]);

  const run = (program: string, args: string[]): string => {
    const r = spawnSync(which(program) ?? program, args, { env, encoding: 'utf8', timeout: 30_000 });
    if (r.status !== 0) throw new Error(`${program} ${args.join(' ')} failed (exit ${r.status}): ${r.stderr}${r.error ?? ''}`);
    return r.stdout;
  };
  const stop = async () => {
    // Jobs first: their processes belong to slurmstepd, not to this process, and must not outlive the test.
    const queue = () => spawnSync(which('squeue')!, ['-h', '-o', '%i'], { env, encoding: 'utf8', timeout: 5000 });
    spawnSync(which('scancel')!, ['--signal=KILL', '--user=root'], { env, timeout: 10_000 });
    await waitFor('jobs to end', () => { const q = queue(); return q.status !== 0 || q.stdout.trim() === ''; }, 15_000).catch(() => undefined);
    const alive = children.filter((c) => c.exitCode === null && c.signalCode === null);
    const exited = alive.map((c) => new Promise<void>((r) => c.once('close', () => r())));
    for (const c of alive) c.kill('SIGTERM');
    const timer = setTimeout(() => alive.forEach((c) => c.exitCode === null && c.kill('SIGKILL')), 10_000);
    await Promise.all(exited);
    clearTimeout(timer);
  };
  // A crashed test process must not leave daemons behind.
  process.once('exit', () => children.forEach((c) => c.exitCode === null && c.kill('SIGKILL')));

  try {
    await waitFor('munged', () => existsSync(join(dir, 'munge.socket')), 10_000);
    daemon('slurmctld', ['-D', '-i', '-f', conf]);
    daemon('slurmd', ['-D', '-N', node, '-f', conf]);
    await waitFor(
      'the node to be idle',
      () => {
        const r = spawnSync(which('sinfo') ?? 'sinfo', ['-h', '-N', '-o', '%T'], { env, encoding: 'utf8', timeout: 5000 });
        return r.status === 0 && /^idle/m.test(r.stdout);
      },
      opts.timeoutMs ?? 30_000,
    );
  } catch (e) {
    await stop();
    throw new Error(`${(e as Error).message}\n${logs()}`);
  }
  return { env, run, logs, stop };
}

export interface ArrayTaskState {
  task: number;
  state: string;
  /** `code:signal` as Slurm records it. */
  exitCode: string;
  restarts: number;
}

/** The state of each task of a job array (`scontrol show job`, one line per task). */
export function arrayTasks(cluster: SlurmCluster, jobId: string): ArrayTaskState[] {
  const out = cluster.run('scontrol', ['-o', 'show', 'job', jobId]);
  return out
    .split('\n')
    .filter((l) => /ArrayTaskId=\d+ /.test(l))
    .map((l) => ({
      task: Number(/ArrayTaskId=(\d+) /.exec(l)![1]),
      state: /JobState=(\S+)/.exec(l)![1]!,
      exitCode: /ExitCode=(\S+)/.exec(l)![1]!,
      restarts: Number(/Restarts=(\d+)/.exec(l)?.[1] ?? 0),
    }))
    .sort((a, b) => a.task - b.task);
}
