/**
 * Extra threads for the SIMD programs when tfjs-backend-wasm runs its threaded build: that build's
 * memory is shared, so a Node worker can instantiate the same programs over it and compute part of
 * a convolution in place. Each call hands every thread its own argument list (a row or channel
 * range the caller chose), runs the first on the calling thread and blocks until the others are
 * done. Hand-off is through one SharedArrayBuffer per worker with Atomics.wait / notify: no
 * messages, so a kernel stays synchronous, as tfjs kernels must be.
 *
 * Both sides poll for a few microseconds before they sleep (`pollMicroseconds`): a training step
 * hands out hundreds of short jobs back to back, and waking a thread from Atomics.wait took longer
 * than many of the jobs. On the 2-core development machine, 2 threads, polling ~30 µs turned a 64²
 * step from 74 into ~60 ms and a 128² one from 182 into ~141 (BENCHMARKS.md); polling longer got
 * slower again, as the pollers take the cores that Node's own threads need.
 */
import { Worker } from 'node:worker_threads';

/** Control block layout (Int32 slots) of one worker. */
const SEQUENCE = 0; // bumped by the caller for each job; a negative value stops the worker
const DONE = 1; // the last sequence number the worker finished
const FUNCTION = 2;
const ARG_COUNT = 3;
const FAILED = 4; // 1 when the job threw (a wasm trap); the message is not passed on
const POLL = 5; // µs the worker polls for its next job before it sleeps (set with each job)
const ARGS = 8;
const MAX_ARGS = 24;

/**
 * Polls `cells[index]` while it equals `value`, for at most `microseconds`; true when it changed.
 * Self-contained: the worker's source includes it as text.
 */
function pollWhileEqual(cells: Int32Array, index: number, value: number, microseconds: number): boolean {
  if (!(microseconds > 0)) return Atomics.load(cells, index) !== value;
  const end = performance.now() + microseconds / 1000;
  do {
    for (let k = 0; k < 64; k++) if (Atomics.load(cells, index) !== value) return true;
  } while (performance.now() < end);
  return false;
}

/** Runs in the worker (CommonJS, eval'd): instantiate the programs, then serve jobs forever. */
const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const { bytes, memory, control, names } = workerData;
const programs = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } }).exports;
const ctl = new Int32Array(control);
const pollWhileEqual = ${pollWhileEqual.toString()};
let seen = 0;
for (;;) {
  if (!pollWhileEqual(ctl, ${SEQUENCE}, seen, ctl[${POLL}])) Atomics.wait(ctl, ${SEQUENCE}, seen);
  seen = Atomics.load(ctl, ${SEQUENCE});
  if (seen < 0) break;
  try {
    programs[names[ctl[${FUNCTION}]]](...ctl.subarray(${ARGS}, ${ARGS} + ctl[${ARG_COUNT}]));
    ctl[${FAILED}] = 0;
  } catch {
    ctl[${FAILED}] = 1;
  }
  Atomics.store(ctl, ${DONE}, seen);
  Atomics.notify(ctl, ${DONE});
}
`;

export class ProgramThreads {
  private readonly workers: Array<{ worker: Worker; control: Int32Array }> = [];
  /** How long each side polls before it sleeps (read at every call, so a flag can switch it). */
  pollMicroseconds: () => number = () => 0;

  /**
   * `extraThreads` workers running the module `bytes` (which imports `memory`, a shared memory)
   * alongside the calling thread, whose own instance is `local`.
   */
  constructor(
    bytes: Uint8Array, memory: WebAssembly.Memory, private readonly names: string[],
    private readonly local: Record<string, (...args: number[]) => void>, extraThreads: number,
  ) {
    for (let k = 0; k < extraThreads; k++) {
      const control = new Int32Array(new SharedArrayBuffer((ARGS + MAX_ARGS) * 4));
      const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { bytes, memory, control: control.buffer, names } });
      worker.unref();
      this.workers.push({ worker, control });
    }
  }

  /** Threads a call can use: the caller plus the workers. */
  get threads(): number {
    return this.workers.length + 1;
  }

  /** Runs `name` once per argument list, the first on this thread, and returns when all are done. */
  run(name: string, argLists: number[][]): void {
    const fn = this.names.indexOf(name);
    const poll = this.pollMicroseconds();
    const handedOut = argLists.slice(1).map((args, k) => {
      const { control } = this.workers[k]!;
      if (args.length > MAX_ARGS) throw new Error(`ProgramThreads: ${args.length} arguments, at most ${MAX_ARGS}`);
      control[FUNCTION] = fn;
      control[ARG_COUNT] = args.length;
      control[POLL] = poll;
      control.set(args, ARGS);
      const sequence = Atomics.add(control, SEQUENCE, 1) + 1;
      Atomics.notify(control, SEQUENCE);
      return { control, sequence };
    });
    if (argLists[0]) this.local[name]!(...argLists[0]);
    for (const { control, sequence } of handedOut) {
      pollWhileEqual(control, DONE, sequence - 1, poll);
      for (let done = Atomics.load(control, DONE); done !== sequence; done = Atomics.load(control, DONE)) {
        Atomics.wait(control, DONE, done);
      }
      if (control[FAILED]) throw new Error(`wasm SIMD program ${name} failed on a worker thread`);
    }
  }

  /** Stops the workers (they hold no resources beyond their thread). */
  stop(): void {
    for (const { worker, control } of this.workers) {
      Atomics.store(control, SEQUENCE, -1);
      Atomics.notify(control, SEQUENCE);
      void worker.terminate();
    }
    this.workers.length = 0;
  }
}

/** `count` contiguous ranges covering [0, total) as evenly as possible, empty ones left out. */
export function splitRange(total: number, count: number): Array<[number, number]> {
  const ranges: Array<[number, number]> = [];
  for (let k = 0; k < count; k++) {
    const start = Math.floor((total * k) / count);
    const end = Math.floor((total * (k + 1)) / count);
    if (end > start) ranges.push([start, end]);
  }
  return ranges;
}
