/**
 * The second pass of every split reduction here (filter gradient, column sums, group norm):
 * partial sums laid out [groups, chunks, E] added over the chunks into [groups, E].
 *
 * One thread per output walking all chunks serially was latency-bound: a filter gradient at 256²,
 * batch 8, has ~700 chunks, and its few thousand outputs fill a few dozen workgroups. Here the
 * threads of a workgroup split the chunks into phases (strided, so each load instruction reads
 * consecutive outputs) and meet in workgroup memory. Fixed order, no atomics: deterministic.
 */
import { WorkgroupGridProgram, mainHeader, phaseReduction, phaseReductionMemory } from './program-util.js';

const THREADS = 256;
/** At most this many phases; at least ~4 chunks per phase so the partial sums are worth the barrier. */
const MAX_PHASES = 16;

/** Threads that share an output: a power of two, min(16, chunks / 4) rounded down, at least 1. */
export function chunkSumPhases(chunks: number): number {
  let phases = 1;
  while (phases * 2 <= MAX_PHASES && phases * 2 * 4 <= chunks) phases *= 2;
  return phases;
}

export class ChunkSumProgram extends WorkgroupGridProgram {
  variableNames = ['partial'];
  shaderKey: string;
  private readonly phases: number;
  private readonly cols: number;
  private readonly elements: number;

  /**
   * `outputShape` holds groups × E elements; `groups` is the leading count (1 for one reduction).
   * Input: [groups, chunks, E] flat.
   */
  constructor(outputShape: number[], private readonly chunks: number, groups = 1) {
    const elements = outputShape.reduce((a, b) => a * b, 1) / groups;
    const phases = chunkSumPhases(chunks);
    super(outputShape, [Math.ceil((elements * phases) / THREADS), groups, 1], THREADS);
    this.elements = elements;
    this.phases = phases;
    this.cols = THREADS / phases;
    this.shaderKey = `ctquantChunkSum_${chunks}_${elements}_${groups}`;
  }

  getUserCode(): string {
    return `
      const E = ${this.elements};
      const CHUNKS = ${this.chunks};
      const PHASES = ${this.phases};
      const COLS = ${this.cols};

      ${phaseReductionMemory(['part'], THREADS)}

      ${mainHeader('index')} {
        // uniforms.size is read only so the auto layout keeps the uniform binding tfjs always binds.
        if (uniforms.size < 0) { return; }
        let lid = i32(localIndex);
        let phase = lid / COLS;
        let c = lid - phase * COLS;
        let e = i32(workgroupId.x) * COLS + c;
        let g = i32(workgroupId.y);
        var s = 0.0;
        if (e < E) {
          for (var k = phase; k < CHUNKS; k += PHASES) { s += partial[(g * CHUNKS + k) * E + e]; }
        }
        ${phaseReduction({
          sums: [{ part: 'part', value: 's', total: 'total' }], slot: 'q * COLS + c',
          writer: 'phase == 0 && e < E', write: 'result[g * E + e] = total;',
        })}
      }
    `;
  }
}
