/**
 * Group normalisation + affine + ReLU on WebGPU, forward and backward, each as one kernel of a few
 * passes. Composed from tf ops the pair issues ~30 operations per layer (moments, broadcasts, the
 * backward's group means); on an H100 the default recipe's step at 256², batch 8 spent 7 of its
 * 40 GPU-ms in 76 stock `Mean` reductions (one workgroup per output) and ~45 ms issuing them.
 *
 * x is viewed as [B, N, C] (N = H·W), groups of C/G channels. Every reduction here is over the N
 * rows of one image, per channel, in the column-sum layout (column-sum.ts): partial sums per chunk
 * of rows (pass 1), then the chunk sum (pass 2, chunk-sum.ts) → totals [B, C, 2]; a group's
 * statistics are then C/G totals, added where they are needed. Fixed order, no atomics.
 *
 * Forward: partial sums of (x − K) and (x − K)² per (b, chunk, c), K = x[b, 0, first channel of the
 *   group] (a shift, so the variance E[(x−K)²] − E[x−K]² does not cancel when |mean| ≫ σ); totals;
 *   mean and 1/σ per (b, g) → stats [B, G, 2]; then z = relu(γ·(x − μ)/σ + β), NaN kept.
 * Backward (dz, x, γ, β, stats): dy = dz·[γ·x̂ + β > 0]; partial sums of dy and dy·x̂ per
 *   (b, chunk, c); totals; dx = (dy·γ − mean_g(dy·γ) − x̂·mean_g(dy·γ·x̂))/σ; dβ = Σ dy,
 *   dγ = Σ dy·x̂ over B (the totals are already summed over N).
 */
import { planColumnSum, type ColumnSumPlan } from './column-sum.js';
import { FlatOutputProgram, WorkgroupGridProgram, mainHeader, phaseReduction, phaseReductionMemory } from './program-util.js';

const THREADS = 256;
/** Chunks per image: enough workgroups for a large GPU at batch 1; the chunk sum adds them in parallel. */
const MAX_CHUNKS = 64;

export interface GroupNormShape {
  batch: number;
  /** Rows per image: H·W. */
  rows: number;
  channels: number;
  groups: number;
}

/** The shape and, per image, the column-sum tiling of its [rows, channels] view (column-sum.ts). */
export interface GroupNormPlan extends GroupNormShape, Omit<ColumnSumPlan, 'outer' | 'inner'> {}

export function planGroupNorm(shape: GroupNormShape): GroupNormPlan {
  const { cols, colTiles, phases, rowsPerChunk, chunks } = planColumnSum(shape.rows, shape.channels, MAX_CHUNKS);
  return { ...shape, cols, colTiles, phases, rowsPerChunk, chunks };
}

const planKey = (p: GroupNormPlan) => Object.values(p).join('_');

/** WGSL constants every pass uses. */
function constants(p: GroupNormPlan): string {
  return `
    const ROWS = ${p.rows};
    const CH = ${p.channels};
    const CPG = ${p.channels / p.groups};
    const GROUPS = ${p.groups};
        const COUNT = ${p.rows * (p.channels / p.groups)}.0;
  `;
}

/** WGSL: true for NaN (on the bits: compilers may fold v != v to false). */
const IS_NAN = `fn isNanF32(v: f32) -> bool { return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u; }`;

/**
 * Pass 1 of both directions: per (b, chunk, c) two partial sums, output [B, chunks, C, 2].
 * `forward`: of (x − K) and (x − K)²; backward: of dy and dy·x̂ (inputs dz, x, gamma, beta, stats).
 */
export class GroupNormPartialProgram extends WorkgroupGridProgram {
  variableNames: string[];
  shaderKey: string;

  constructor(private readonly plan: GroupNormPlan, private readonly direction: 'forward' | 'backward') {
    super([plan.batch, plan.chunks, plan.channels, 2], [plan.colTiles, plan.chunks, plan.batch], THREADS);
    this.variableNames = direction === 'forward' ? ['x'] : ['dz', 'x', 'gamma', 'beta', 'stats'];
    this.shaderKey = `ctquantGroupNormPartial_${direction}_${planKey(plan)}`;
  }

  getUserCode(): string {
    const p = this.plan;
    // Per element at flat position i of image b, channel col: add to acc1 and acc2.
    const accumulate = this.direction === 'forward'
      ? `let v = x[i] - shift; acc1 += v; acc2 += v * v;`
      : `let xh = (x[i] - mu) * inv;
         let dy = select(0.0, dz[i], gamma[col] * xh + beta[col] > 0.0);
         acc1 += dy; acc2 += dy * xh;`;
    const setup = this.direction === 'forward'
      ? `let shift = x[b * ROWS * CH + (col / CPG) * CPG];`
      : `let sIdx = (b * GROUPS + col / CPG) * 2; let mu = stats[sIdx]; let inv = stats[sIdx + 1];`;
    return `
      ${constants(p)}
      const COLS = ${p.cols};
      const PHASES = ${p.phases};
      const CHUNK_ROWS = ${p.rowsPerChunk};
      const CHUNKS = ${p.chunks};

      ${phaseReductionMemory(['part1', 'part2'], THREADS)}

      ${mainHeader('index')} {
        // uniforms.size is read only so the auto layout keeps the uniform binding tfjs always binds.
        if (uniforms.size < 0) { return; }
        let lid = i32(localIndex);
        let chunk = i32(workgroupId.y);
        let b = i32(workgroupId.z);
        let phase = lid / COLS;
        let c = lid - phase * COLS;
        let col = i32(workgroupId.x) * COLS + c;
        var acc1 = 0.0;
        var acc2 = 0.0;
        if (phase < PHASES && col < CH) {
          ${setup}
          let r0 = chunk * CHUNK_ROWS;
          let r1 = min(r0 + CHUNK_ROWS, ROWS);
          for (var r = r0 + phase; r < r1; r += PHASES) {
            let i = (b * ROWS + r) * CH + col;
            ${accumulate}
          }
        }
        ${phaseReduction({
          sums: [{ part: 'part1', value: 'acc1', total: 's1' }, { part: 'part2', value: 'acc2', total: 's2' }],
          slot: 'q * COLS + c',
          writer: 'phase == 0 && col < CH',
          write: `let o = ((b * CHUNKS + chunk) * CH + col) * 2;
          result[o] = s1;
          result[o + 1] = s2;`,
        })}
      }
    `;
  }
}

/** Forward pass 3: mean and 1/σ per (b, g) from the per-channel shifted totals; inputs x, totals [B, C, 2]; output [B, G, 2]. */
export class GroupStatsProgram extends FlatOutputProgram {
  variableNames = ['x', 'totals'];
  shaderKey: string;

  constructor(private readonly plan: GroupNormPlan, private readonly epsilon: number) {
    super([plan.batch, plan.groups, 2], 64);
    this.shaderKey = `ctquantGroupStats_${planKey(plan)}_${epsilon}`;
  }

  getUserCode(): string {
    return `
      ${constants(this.plan)}
      ${mainHeader('index')} {
        if (index < uniforms.size) {
          let bg = index / 2;
          let b = bg / GROUPS;
          let c0 = (bg - b * GROUPS) * CPG;
          var s1 = 0.0;
          var s2 = 0.0;
          for (var c = c0; c < c0 + CPG; c++) {
            let t = (b * CH + c) * 2;
            s1 += totals[t];
            s2 += totals[t + 1];
          }
          let m = s1 / COUNT;
          if (index % 2 == 0) {
            result[index] = x[b * ROWS * CH + c0] + m;
          } else {
            result[index] = inverseSqrt(max(s2 / COUNT - m * m, 0.0) + ${this.epsilon});
          }
        }
      }
    `;
  }
}

/** Forward pass 4: z = relu(γ·(x − μ)/σ + β) per element, NaN kept; inputs x, gamma, beta, stats. */
export class GroupNormReluApplyProgram extends FlatOutputProgram {
  variableNames = ['x', 'gamma', 'beta', 'stats'];
  shaderKey: string;

  /** outputShape: x's shape, [B, H, W, C]. */
  constructor(private readonly plan: GroupNormPlan, outputShape: number[]) {
    super(outputShape, THREADS);
    this.shaderKey = `ctquantGroupNormReluApply_${planKey(plan)}`;
  }

  getUserCode(): string {
    return `
      ${constants(this.plan)}
      ${IS_NAN}
      ${mainHeader('index')} {
        if (index < uniforms.size) {
          let c = index % CH;
          let b = index / (ROWS * CH);
          let s = (b * GROUPS + c / CPG) * 2;
          // The same expression as the backward's mask, so both agree on which v are > 0.
          let xh = (x[index] - stats[s]) * stats[s + 1];
          let v = gamma[c] * xh + beta[c];
          result[index] = select(max(v, 0.0), v, isNanF32(v));
        }
      }
    `;
  }
}

/**
 * Backward pass 3: dx per element, dx = (dy·γ − mean_g(dy·γ) − x̂·mean_g(dy·γ·x̂))/σ;
 * inputs dz, x, gamma, beta, stats, totals.
 */
export class GroupNormInputGradProgram extends FlatOutputProgram {
  variableNames = ['dz', 'x', 'gamma', 'beta', 'stats', 'totals'];
  shaderKey: string;

  /** outputShape: x's shape, [B, H, W, C]. */
  constructor(private readonly plan: GroupNormPlan, outputShape: number[]) {
    super(outputShape, THREADS);
    this.shaderKey = `ctquantGroupNormInputGrad_${planKey(plan)}`;
  }

  getUserCode(): string {
    return `
      ${constants(this.plan)}
      ${mainHeader('index')} {
        if (index < uniforms.size) {
          let c = index % CH;
          let b = index / (ROWS * CH);
          let c0 = (c / CPG) * CPG;
          let s = (b * GROUPS + c / CPG) * 2;
          let inv = stats[s + 1];
          var sumG = 0.0;
          var sumGX = 0.0;
          for (var k = c0; k < c0 + CPG; k++) {
            let t = (b * CH + k) * 2;
            sumG += gamma[k] * totals[t];
            sumGX += gamma[k] * totals[t + 1];
          }
          let xh = (x[index] - stats[s]) * inv;
          let dy = select(0.0, dz[index], gamma[c] * xh + beta[c] > 0.0);
          result[index] = (dy * gamma[c] - sumG / COUNT - xh * sumGX / COUNT) * inv;
        }
      }
    `;
  }
}

/** Backward pass 4: dβ (component 0) or dγ (component 1) [C], the totals summed over the batch. */
export class GroupNormParamGradProgram extends FlatOutputProgram {
  variableNames = ['totals'];
  shaderKey: string;

  constructor(private readonly plan: GroupNormPlan, private readonly component: 0 | 1) {
    super([plan.channels], 64);
    this.shaderKey = `ctquantGroupNormParamGrad_${planKey(plan)}_${component}`;
  }

  getUserCode(): string {
    return `
      ${constants(this.plan)}
      const BATCH = ${this.plan.batch};
      ${mainHeader('index')} {
        if (index < uniforms.size) {
          var s = 0.0;
          for (var b = 0; b < BATCH; b++) { s += totals[(b * CH + index) * 2 + ${this.component}]; }
          result[index] = s;
        }
      }
    `;
  }
}
