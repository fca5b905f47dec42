/** A test file run again as a child process that prints its report as the last line of stdout (JSON). */
import { spawn } from 'node:child_process';

export interface ChildOptions {
  /** Node flags before `--import tsx` (e.g. a V8 flag). */
  nodeArgs?: string[];
  /** Added to this process's environment: how the child knows it is the child. */
  env: Record<string, string>;
  /** Names the child in the error message. */
  label: string;
  timeoutMs?: number;
}

/** Runs `file` under tsx; resolves with its last stdout line parsed as JSON, rejects with its stderr tail. */
export function runChildReport<T>(file: string, o: ChildOptions): Promise<T> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [...(o.nodeArgs ?? []), '--import', 'tsx', file], {
      env: { ...process.env, ...o.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    proc.stdout.on('data', (d) => (out += d));
    proc.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => proc.kill(), o.timeoutMs ?? 60_000);
    proc.on('close', (code) => {
      clearTimeout(timer);
      const line = out.trim().split('\n').pop() ?? '';
      if (code !== 0 || !line.startsWith('{')) reject(new Error(`${o.label} exited ${code}: ${err.slice(-800)}`));
      else resolve(JSON.parse(line) as T);
    });
  });
}
