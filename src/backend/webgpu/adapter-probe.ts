/**
 * Whether Dawn finds a WebGPU adapter, asked in a child process so Dawn's native driver warnings
 * ("Warning: vkCreateInstance: Found no drivers!", written straight to file descriptor 2) stay out
 * of the terminal: a machine without a GPU then never loads Dawn here. `--verbose` (the
 * CTQUANT_VERBOSE environment variable, which worker processes inherit) skips the probe.
 */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

import { VERBOSE_ENV } from '../names.js';

export { VERBOSE_ENV };

export function driverMessagesWanted(): boolean {
  return process.env[VERBOSE_ENV] === '1';
}

/** true / false when the probe answered; null when it could not run (then ask Dawn in-process). */
export async function dawnFindsAdapter(timeoutMs = 30_000): Promise<boolean | null> {
  let url: string;
  try {
    url = pathToFileURL(createRequire(import.meta.url).resolve('webgpu')).href;
  } catch {
    return null;
  }
  const script =
    `process.env.XDG_RUNTIME_DIR ??= '/tmp';` +
    `const d = await import(${JSON.stringify(url)});` +
    `const a = await d.create([]).requestAdapter({ powerPreference: 'high-performance' });` +
    `process.stdout.write(a ? 'ADAPTER' : 'NONE'); process.exit(0);`;
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'ignore'], env: process.env });
    let out = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.on('data', (d) => (out += d));
    child.on('error', () => resolve(null));
    child.on('close', () => {
      clearTimeout(timer);
      resolve(out === 'ADAPTER' ? true : out === 'NONE' ? false : null);
    });
  });
}
