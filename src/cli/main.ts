import yargs, { type CommandModule } from 'yargs';
import { isUserError } from '../errors.js';
import { profileCommand } from './profile.js';
import { storageCommand } from './storage.js';
import { dataCommand } from './data.js';
import { evalCommand, mergeCommand } from './merge.js';
import { demoCommand, studyCommand, sweepCommand, trainCommand, workerCommand } from './experiment.js';
import { VERBOSE_ENV } from '../backend/names.js';
import { errorJson, refuseNaN, terminalSafe, wantsJson, withSuggestion } from './args.js';

/**
 * Every command; each lives in its own file under src/cli and only parses flags. Commands that
 * compute import TensorFlow.js lazily (src/cli/compute.ts): --help, profile, storage and data never load it.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const commands: CommandModule<any, any>[] = [profileCommand, storageCommand, dataCommand, trainCommand, studyCommand, sweepCommand, demoCommand, evalCommand, mergeCommand, workerCommand];

const guardedStreams = new WeakSet<NodeJS.WriteStream>();

/**
 * A reader that stops early (`ctquant storage … | head -1`, a log piped to a pager that quits) closes
 * the pipe, and Node then fails the next write with EPIPE, which crashed with a stack. Output to a
 * closed pipe is dropped instead and the command goes on: a short one ends as usual, and a training
 * whose log reader went away still finishes and writes its results.
 */
export function dropOutputToClosedPipes(streams: NodeJS.WriteStream[] = [process.stdout, process.stderr]): void {
  for (const stream of streams) {
    // Once per stream: main runs many times in one process in the tests, and listeners would pile up.
    if (guardedStreams.has(stream)) continue;
    guardedStreams.add(stream);
    stream.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EPIPE') throw e;
      stream.write = (() => true) as typeof stream.write;
    });
  }
}

/**
 * Exit codes: 0 done; 2 bad input (a UserError, a usage error); 1 a bug (with its stack);
 * 128 + signal number when a training was stopped by a signal and checkpointed (130 Ctrl-C,
 * 143 SIGTERM, 129 SIGHUP). Under --json an error is one JSON line on stdout: {"error": {...}}.
 */
export async function main(argv: string[]): Promise<void> {
  dropOutputToClosedPipes();
  const json = wantsJson(argv);
  // Read by src/backend/webgpu/adapter-probe.ts in this process and in worker processes.
  if (argv.includes('--verbose')) process.env[VERBOSE_ENV] = '1';
  const report = (message: string, exitCode: number, where: { file?: string; pointer?: string } = {}, line?: string) => {
    if (json) process.stdout.write(`${errorJson({ message, exitCode, ...where })}\n`);
    else process.stderr.write(`ctquant: ${terminalSafe(line ?? message)}\n`);
    process.exitCode = exitCode;
  };
  try {
    let parser = yargs(argv)
      .scriptName('ctquant')
      .usage('$0 <command> [options]\n\nWhich CT readout pixels can run on a lower-bit ADC, and what it costs segmentation.')
      .option('json', { type: 'boolean', default: false, describe: 'machine-readable output on stdout (errors too: one {"error": …} line)' })
      .option('verbose', { type: 'boolean', default: false, describe: 'also show backend driver messages (Dawn / Vulkan) on stderr' })
      .demandCommand(1, 'Name a command (ctquant --help lists them).')
      .recommendCommands()
      .strict()
      .help()
      .alias('h', 'help')
      .version()
      .middleware((parsed) => refuseNaN(parsed, argv), true)
      .wrap(Math.min(110, process.stdout.columns ?? 100))
      .fail((msg, err, y) => {
        if (err) throw err;
        // The third argument is yargs' usage object; its descriptions are keyed by the failing command's option names (not in its typings).
        const usage = y as unknown as { getDescriptions?: () => Record<string, unknown> } | undefined;
        const known = Object.keys(usage?.getDescriptions?.() ?? {});
        throw Object.assign(new Error(withSuggestion(msg ?? 'bad arguments', known)), { usage: true });
      });
    for (const c of commands) parser = parser.command(c);
    await parser.parseAsync();
  } catch (e) {
    if (isUserError(e)) return report(e.message, e.exitCode, { file: e.file, pointer: e.pointer }, e.format());
    if (e instanceof Error && (e as { usage?: boolean }).usage) {
      return report(e.message, 2, {}, `${e.message} (ctquant --help for usage)`);
    }
    throw e;
  }
}
