/** Pieces the ctquant WGSL programs for tfjs-backend-webgpu share. */
import type { WebGPUProgram } from '@tensorflow/tfjs-backend-webgpu/dist/webgpu_program.js';

/**
 * A 1-D dispatch of ceil(elements / threads) workgroups, folded into two dimensions past the
 * 65535-per-dimension limit (tfjs's flat `index` spans both).
 */
export function flatDispatch(elements: number, threads: number): [number, number, number] {
  const groups = Math.ceil(elements / threads);
  return groups > 65535 ? [65535, Math.ceil(groups / 65535), 1] : [groups, 1, 1];
}

/**
 * n items (rows, pixels) cut into about `wanted` chunks of equal size, a multiple of `multiple`,
 * none of them empty: the chunk size and the number of chunks that size gives.
 */
export function evenChunks(n: number, wanted: number, multiple = 1): { size: number; chunks: number } {
  const size = Math.ceil(Math.ceil(n / wanted) / multiple) * multiple;
  return { size, chunks: Math.ceil(n / size) };
}

/** tfjs's `getMainHeaderString`, repeated here: the dist module is not part of the package's public API. */
export function mainHeader(index: string): string {
  return `fn main(${index} : i32)`;
}

/**
 * A program that sizes its own grid: `dispatch` workgroups of `threads` threads, which find their
 * work from workgroupId and localIndex. Subclasses name their inputs, key and shader.
 */
export abstract class WorkgroupGridProgram implements WebGPUProgram {
  abstract variableNames: string[];
  abstract shaderKey: string;
  outputShape: number[];
  dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number];
  size = true;

  constructor(outputShape: number[], dispatch: [number, number, number], threads: number) {
    this.outputShape = outputShape;
    this.dispatchLayout = { x: outputShape.map((_, i) => i) };
    this.dispatch = dispatch;
    this.workgroupSize = [threads, 1, 1];
  }

  abstract getUserCode(): string;
}

/**
 * A program with one thread per output element, indexed flat (`index` < uniforms.size): the grid
 * derived from the output shape.
 */
export abstract class FlatOutputProgram extends WorkgroupGridProgram {
  constructor(outputShape: number[], threads: number) {
    super(outputShape, flatDispatch(outputShape.reduce((a, b) => a * b, 1), threads), threads);
  }
}

/** WGSL: the workgroup arrays a phase reduction meets in (phaseReduction), one f32 per thread each. */
export function phaseReductionMemory(names: string[], threads: number): string {
  return names.map((name) => `var<workgroup> ${name}: array<f32, ${threads}>;`).join('\n');
}

/** One sum of a phase reduction: the workgroup array, the thread's partial stored there, the total's name. */
export interface PhaseSum {
  part: string;
  value: string;
  total: string;
}

/**
 * WGSL: the threads of a workgroup, split into PHASES phases that each summed part of the same
 * outputs, meet in workgroup memory: every thread stores its partials (`part[lid] = value`), then a
 * thread that `writer` selects (one of phase 0) adds the partials at `slot` (an expression of the
 * phase q) for q = 0 … PHASES − 1, in that order, so the sum is the same bits every run, and runs
 * `write` with the totals in scope. Needs `lid` (the local index) and the constant PHASES in scope.
 */
export function phaseReduction(o: { sums: PhaseSum[]; slot: string; writer: string; write: string }): string {
  const store = o.sums.map((s) => `${s.part}[lid] = ${s.value};`).join('\n');
  const start = o.sums.map((s) => `var ${s.total} = 0.0;`).join('\n');
  const add = o.sums.map((s) => `${s.total} += ${s.part}[${o.slot}];`).join(' ');
  return `
    ${store}
    workgroupBarrier();
    if (${o.writer}) {
      ${start}
      for (var q = 0; q < PHASES; q++) { ${add} }
      ${o.write}
    }`;
}
