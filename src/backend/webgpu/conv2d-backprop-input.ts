/**
 * The input gradient of a stride-1 convolution as a forward convolution on WebGPU.
 *
 * dx[n, h, w, ci] = Σ dy[n, h + pt − kh, w + pl − kw, co] · W[kh, kw, ci, co]: a convolution of dy
 * with W rotated by 180° and its channel axes swapped ([KH, KW, Cout, Cin]), padded by
 * (KH − 1 − pt, H − Ho + pt) rows and (KW − 1 − pl, W − Wo + pl) columns. tfjs-backend-webgpu's
 * forward Conv2D is a tiled matrix product; its Conv2DBackpropInput program is not, and took
 * 30 ms of a 120 ms step on an H100 (19 calls at 512², batch 8) against 15 ms for all forward convs.
 * One small dispatch (FlipFilterProgram) prepares the filter.
 */
import { FlatOutputProgram, mainHeader } from './program-util.js';

/** out[kh, kw, co, ci] = W[KH−1−kh, KW−1−kw, ci, co]: the filter of the equivalent forward conv. */
export class FlipFilterProgram extends FlatOutputProgram {
  variableNames = ['W'];
  shaderKey: string;

  constructor(private readonly filterShape: [number, number, number, number]) {
    const [kh, kw, cin, cout] = filterShape;
    super([kh, kw, cout, cin], 64);
    this.shaderKey = `ctquantFlipFilter_${filterShape.join('_')}`;
  }

  getUserCode(): string {
    const [KH, KW, CIN, COUT] = this.filterShape;
    return `
      ${mainHeader('index')} {
        if (index < uniforms.size) {
          let ci = index % ${CIN};
          let t = index / ${CIN};
          let co = t % ${COUT};
          let tap = t / ${COUT};
          let kh = tap / ${KW};
          let kw = tap - kh * ${KW};
          setOutputAtIndex(index, W[(((${KH - 1} - kh) * ${KW} + (${KW - 1} - kw)) * ${CIN} + ci) * ${COUT} + co]);
        }
      }
    `;
  }
}
