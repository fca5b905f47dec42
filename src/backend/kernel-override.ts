/**
 * The one way ctquant puts its own kernel in tfjs's global kernel registry: in place of the kernel a
 * backend registered under the same name (kept, so the new one can fall back to it and a caller can
 * put it back), or under a name the backend lacks.
 */
import * as tf from '@tensorflow/tfjs';
import type { KernelConfig, KernelFunc } from '@tensorflow/tfjs';

/** The kernel `backendName` has registered under `name`, or undefined. */
export function registeredKernel(name: string, backendName: string): KernelConfig | undefined {
  return tf.getKernelsForBackend(backendName).find((k) => k.kernelName === name);
}

/**
 * Registers `make(stock)` as kernel `name` of `backendName`, where `stock` is the kernel function
 * registered now (undefined when there is none); the replaced kernel's setup and dispose functions
 * stay. Returns the replaced kernel's config (for restoreKernel), undefined when there was none.
 */
export function overrideKernel(
  backendName: string, name: string, make: (stock: KernelFunc | undefined) => KernelFunc,
): KernelConfig | undefined {
  const existing = registeredKernel(name, backendName);
  if (existing) tf.unregisterKernel(name, backendName);
  tf.registerKernel({ ...existing, kernelName: name, backendName, kernelFunc: make(existing?.kernelFunc) });
  return existing;
}

/** Undoes overrideKernel: registers `replaced` again, or removes the kernel when there was none. */
export function restoreKernel(backendName: string, name: string, replaced: KernelConfig | undefined): void {
  if (registeredKernel(name, backendName)) tf.unregisterKernel(name, backendName);
  if (replaced) tf.registerKernel(replaced);
}
