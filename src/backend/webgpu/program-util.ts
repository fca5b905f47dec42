/** Pieces the ctquant WGSL programs for tfjs-backend-webgpu share. */

/**
 * A 1-D dispatch of ceil(elements / threads) workgroups, folded into two dimensions past the
 * 65535-per-dimension limit (tfjs's flat `index` spans both).
 */
export function flatDispatch(elements: number, threads: number): [number, number, number] {
  const groups = Math.ceil(elements / threads);
  return groups > 65535 ? [65535, Math.ceil(groups / 65535), 1] : [groups, 1, 1];
}

/** tfjs's `getMainHeaderString`, repeated here: the dist module is not part of the package's public API. */
export function mainHeader(index: string): string {
  return `fn main(${index} : i32)`;
}
