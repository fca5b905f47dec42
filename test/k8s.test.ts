/**
 * deploy/k8s/sweep-indexed-job.yaml, the README's Kubernetes recipe: an indexed Job whose pod i
 * runs shard i+1 of n. The manifest is YAML in its JSON form (plus whole-line `#` comments, which
 * YAML allows and which are dropped here), so no YAML library is needed to read it. Checked: the
 * Job's shape, that the shell expands JOB_COMPLETION_INDEX 0..n-1 to --shard 1/n..n/n with one
 * output folder each on the results volume, and that the command runs through the real CLI (one
 * index, paths mapped to a temp folder, with a tiny training config), twice, as a replacement pod would.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseShardFlag } from '../src/cli/args.js';
import { projectRoot, runCli } from './helpers/cli.js';

const MANIFEST = join(projectRoot, 'deploy/k8s/sweep-indexed-job.yaml');

/** The parts of the manifest this test reads. */
interface Container {
  name: string;
  command: string[];
  workingDir?: string;
  volumeMounts: { name: string; mountPath: string }[];
}
interface IndexedJob {
  apiVersion: string;
  kind: string;
  spec: {
    completionMode: string;
    completions: number;
    parallelism: number;
    podFailurePolicy: { rules: { action: string; onExitCodes?: { containerName: string; operator: string; values: number[] } }[] };
    template: {
      spec: {
        restartPolicy: string;
        terminationGracePeriodSeconds: number;
        containers: Container[];
        volumes: { name: string; persistentVolumeClaim?: { claimName: string }; configMap?: { name: string } }[];
      };
    };
  };
}

/** YAML in JSON form: whole-line comments dropped, the rest must be JSON (an inline `#` would fail here). */
function readJsonYaml(text: string): unknown {
  return JSON.parse(
    text
      .split('\n')
      .filter((line) => !/^\s*#/.test(line))
      .join('\n'),
  );
}

const text = readFileSync(MANIFEST, 'utf8');
const job = readJsonYaml(text) as IndexedJob;
const pod = job.spec.template.spec;
const container = pod.containers[0]!;
const script = container.command[2]!;
const PROGRAM = 'exec node bin/ctquant.js ';

/** The arguments of `node bin/ctquant.js` for completion index `index`, as the pod's sh expands them. */
function argvAt(index: number): string[] {
  const r = spawnSync('sh', ['-c', script.replace(/^exec node bin\/ctquant\.js /, "printf '%s\\n' ")], {
    env: { PATH: process.env.PATH, JOB_COMPLETION_INDEX: String(index) },
    encoding: 'utf8',
  });
  assert.is(r.status, 0, r.stderr);
  return r.stdout.split('\n').filter((s) => s !== '');
}

const flag = (argv: string[], name: string) => argv[argv.indexOf(`--${name}`) + 1];

test('the manifest is an indexed Job: completions = parallelism = the shard count, a grace period for the checkpoint', () => {
  assert.not.match(text, /\t/, 'YAML allows no tabs');
  assert.is(job.apiVersion, 'batch/v1');
  assert.is(job.kind, 'Job');
  assert.is(job.spec.completionMode, 'Indexed');
  const n = parseShardFlag(flag(argvAt(0), 'shard')).count;
  assert.is(job.spec.completions, n);
  assert.is(job.spec.parallelism, n);
  // ctquant stops after the current step and writes a checkpoint on SIGTERM; SIGKILL follows after this.
  assert.ok(pod.terminationGracePeriodSeconds >= 60, `terminationGracePeriodSeconds ${pod.terminationGracePeriodSeconds}`);
  assert.is(pod.restartPolicy, 'Never');
  // Bad input (2) and a NaN loss (3) repeat on a retry; a stop by signal (143) must stay retryable.
  const failJob = job.spec.podFailurePolicy.rules.find((r) => r.action === 'FailJob')?.onExitCodes;
  assert.equal(failJob, { containerName: container.name, operator: 'In', values: [2, 3] });
  assert.equal(container.command.slice(0, 2), ['sh', '-c']);
  // exec: node is process 1 and gets the SIGTERM; a shell there would swallow it.
  assert.ok(script.startsWith(`${PROGRAM}sweep `), script);
  assert.match(script, /--resume$/, 'a replacement pod continues from the checkpoints');
  assert.not.match(script, /['"\\]/, 'no quoting: the test expands the command with sh as the pod does');
});

test('JOB_COMPLETION_INDEX 0..n-1 runs shards 1/n..n/n, each into its own folder on the results volume', () => {
  const n = job.spec.completions;
  const results = container.volumeMounts.find((m) => m.name === 'results')!;
  const profileMount = container.volumeMounts.find((m) => m.name === 'profile')!;
  assert.ok(pod.volumes.find((v) => v.name === 'results')?.persistentVolumeClaim, 'results on a persistent volume');
  assert.ok(pod.volumes.find((v) => v.name === 'profile')?.configMap, 'the profile from a ConfigMap');
  const outs = new Set<string>();
  for (let index = 0; index < n; index++) {
    const argv = argvAt(index);
    assert.equal(parseShardFlag(flag(argv, 'shard')), { index, count: n }, `index ${index}`);
    const out = flag(argv, 'out')!;
    assert.ok(out.startsWith(`${results.mountPath}/`), out);
    outs.add(out);
    assert.ok(flag(argv, 'profile')!.startsWith(`${profileMount.mountPath}/`));
  }
  assert.is(outs.size, n, 'one output folder per shard');
});

test('the command of the last index runs through the CLI (paths mapped), and again as a replacement pod with --resume', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ctquant-k8s-'));
  const mounts = new Map(container.volumeMounts.map((m) => [m.mountPath, join(dir, m.name)]));
  for (const local of mounts.values()) mkdirSync(local);
  const mapped = (arg: string) => {
    for (const [mountPath, local] of mounts) if (arg.startsWith(`${mountPath}/`)) return local + arg.slice(mountPath.length);
    return arg;
  };
  const argv = argvAt(job.spec.completions - 1).map(mapped);
  // The ConfigMap's profile: a 32×32 detector of the kind the command's budgets are for.
  writeFileSync(
    flag(argv, 'profile')!,
    JSON.stringify({ name: 'k8s-tiny', geometry: { rows: 32, cols: 32 }, adc: { nativeBits: 8, modes: [1], quantizer: 'floor' }, budget: { fraction: 0.5 } }),
  );
  // Training settings small enough for a test; every flag of the manifest is kept as it is.
  const config = join(dir, 'tiny.json');
  writeFileSync(
    config,
    JSON.stringify({ size: 32, epochs: 1, batchSize: 4, unet: { depth: 2, baseFilters: 4, normalization: 'batch' }, testFraction: 0.25, validationFraction: 0.2, synthetic: { slices: 16, slicesPerVolume: 2 } }),
  );
  const first = runCli([...argv, '--config', config]);
  assert.is(first.code, 0, first.stderr);
  const out = flag(argv, 'out')!;
  const runs = readdirSync(join(out, 'runs')).sort();
  assert.ok(runs.length > 0, 'the shard wrote runs');
  const before = runs.map((f) => readFileSync(join(out, 'runs', f), 'utf8'));
  const again = runCli([...argv, '--config', config]);
  assert.is(again.code, 0, again.stderr);
  assert.equal(readdirSync(join(out, 'runs')).sort(), runs);
  assert.equal(runs.map((f) => readFileSync(join(out, 'runs', f), 'utf8')), before, 'finished points are kept, not retrained');
});

test.run();
