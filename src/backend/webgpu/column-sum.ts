/**
 * Column sums on WebGPU: a float32 tensor viewed as [outer, inner], summed over its outer rows.
 * Every bias gradient of the U-Net is one (dy [B, H, W, C] summed over B, H, W: outer up to 2M rows
 * at 512², batch 8; inner = C, 16–256). Stock tfjs-backend-webgpu transposes such a tensor so the
 * reduced axes are innermost, then reduces: 31 of these took 20 ms of a 120 ms step on an H100.
 *
 * Pass 1: each 256-thread workgroup takes one chunk of rows and up to 256 columns; when there are
 * fewer columns, the threads split the rows into phases, so each loop iteration reads one
 * contiguous run of 256 floats. The phases meet in workgroup memory; out: [chunks, inner].
 * Pass 2 is the chunk sum (chunk-sum.ts). Fixed order, no atomics: deterministic.
 */
import { WorkgroupGridProgram, evenChunks, mainHeader, phaseReduction, phaseReductionMemory } from './program-util.js';

const THREADS = 256;
/** Elements one workgroup sums: enough work per thread to amortise its start and the second pass. */
const ELEMENTS_PER_CHUNK = 32768;
/** Chunks are pass 2's serial loop length: keep it short. */
const MAX_CHUNKS = 1024;

export interface ColumnSumPlan {
  outer: number;
  inner: number;
  /** Columns per workgroup (min(inner, 256)) and column tiles. */
  cols: number;
  colTiles: number;
  /** Row phases per workgroup: threads that share a column. */
  phases: number;
  rowsPerChunk: number;
  chunks: number;
}

/** `maxChunks`: group norm, whose images each get their own chunks, caps them lower. */
export function planColumnSum(outer: number, inner: number, maxChunks = MAX_CHUNKS): ColumnSumPlan {
  const cols = Math.min(inner, THREADS);
  const colTiles = Math.ceil(inner / cols);
  const phases = Math.max(1, Math.floor(THREADS / cols));
  const wanted = Math.ceil((outer * inner) / ELEMENTS_PER_CHUNK);
  const { size: rowsPerChunk, chunks } = evenChunks(outer, Math.max(1, Math.min(maxChunks, wanted, Math.ceil(outer / phases))));
  return { outer, inner, cols, colTiles, phases, rowsPerChunk, chunks };
}

/** Pass 1: partial column sums, output [chunks, inner]. */
export class ColumnSumPartialProgram extends WorkgroupGridProgram {
  variableNames = ['x'];
  shaderKey: string;

  constructor(private readonly plan: ColumnSumPlan) {
    super([plan.chunks, plan.inner], [plan.colTiles, plan.chunks, 1], THREADS);
    this.shaderKey = `ctquantColumnSumPartial_${Object.values(plan).join('_')}`;
  }

  getUserCode(): string {
    const p = this.plan;
    return `
      const OUTER = ${p.outer};
      const INNER = ${p.inner};
      const COLS = ${p.cols};
      const PHASES = ${p.phases};
      const ROWS = ${p.rowsPerChunk};

      ${phaseReductionMemory(['part'], THREADS)}

      ${mainHeader('index')} {
        // uniforms.size is read only so the auto layout keeps the uniform binding tfjs always binds.
        if (uniforms.size < 0) { return; }
        let lid = i32(localIndex);
        let chunk = i32(workgroupId.y);
        let phase = lid / COLS;
        let c = lid - phase * COLS;
        let col = i32(workgroupId.x) * COLS + c;
        var acc = 0.0;
        if (phase < PHASES && col < INNER) {
          let r0 = chunk * ROWS;
          let r1 = min(r0 + ROWS, OUTER);
          for (var r = r0 + phase; r < r1; r += PHASES) { acc += x[r * INNER + col]; }
        }
        ${phaseReduction({
          sums: [{ part: 'part', value: 'acc', total: 's' }], slot: 'q * COLS + c',
          writer: 'phase == 0 && col < INNER', write: 'result[chunk * INNER + col] = s;',
        })}
      }
    `;
  }
}
