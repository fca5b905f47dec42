import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { installNodeWebgpu, type GpuAdapterSummary } from '../../src/backend/webgpu/node-gpu.js';

/** The WebGPU adapter the WGSL tests run on: SwiftShader from .vulkan-sw/ (scripts/setup-swiftshader.sh) unless VK_ICD_FILENAMES says otherwise. */
export async function testAdapter(): Promise<GpuAdapterSummary | null> {
  return installNodeWebgpu({ swiftShaderDir: fileURLToPath(new URL('../../.vulkan-sw', import.meta.url)) });
}

/**
 * Without an adapter: under CI a failing test (CI installs SwiftShader, so its absence is a
 * broken set-up), elsewhere a loud SKIPPED line.
 */
export function reportMissingAdapter(what: string): void {
  const why = `no WebGPU adapter: run scripts/setup-swiftshader.sh (or set VK_ICD_FILENAMES) to test ${what}`;
  if (process.env.CI === 'true') test(`${what} needs a Vulkan driver`, () => assert.unreachable(why));
  else console.warn(`SKIPPED ${what} tests: ${why}`);
}
