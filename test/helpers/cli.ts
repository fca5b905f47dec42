import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `ctquant <args>` from the TypeScript sources (no build needed), in the project root. */
export function runCli(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): CliResult {
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', '-e', `import('${root}src/cli/main.ts').then((m) => m.main(process.argv.slice(1)))`, ...args],
    { cwd: opts.cwd ?? root, env: { ...process.env, ...opts.env }, encoding: 'utf8', timeout: opts.timeoutMs ?? 120_000 },
  );
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

export const projectRoot = root;
