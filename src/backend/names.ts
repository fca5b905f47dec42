/** The backends a user can name (no tfjs import here: the CLI reads it before deciding to load tfjs). */
export type BackendName = 'auto' | 'tensorflow' | 'webgpu' | 'wasm' | 'cpu';

export const BACKEND_NAMES: readonly BackendName[] = ['auto', 'tensorflow', 'webgpu', 'wasm', 'cpu'];

/** Set to '1' by `--verbose` (inherited by worker processes): backend drivers may then print their warnings. */
export const VERBOSE_ENV = 'CTQUANT_VERBOSE';
