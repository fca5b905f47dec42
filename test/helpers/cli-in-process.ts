import { main } from '../../src/cli/main.js';

export interface InProcessResult {
  out: string;
  err: string;
  code: number;
}

/**
 * Runs `ctquant <argv>` in this process (fast, no spawn): captures stdout and stderr and reads the
 * exit code main set, then resets process.exitCode so a refusal does not fail the test run.
 */
export async function runCliInProcess(...argv: string[]): Promise<InProcessResult> {
  let out = '';
  let err = '';
  const o = process.stdout.write.bind(process.stdout);
  const e = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((s: string) => ((out += s), true)) as typeof process.stdout.write;
  process.stderr.write = ((s: string) => ((err += s), true)) as typeof process.stderr.write;
  process.exitCode = 0;
  try {
    await main(argv);
  } finally {
    process.stdout.write = o;
    process.stderr.write = e;
  }
  const code = Number(process.exitCode ?? 0);
  process.exitCode = 0;
  return { out, err, code };
}
