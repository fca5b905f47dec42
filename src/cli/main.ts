import * as tf from '@tensorflow/tfjs';
import yargs, { type CommandModule } from 'yargs';
import { isUserError } from '../errors.js';
import { profileCommand } from './profile.js';
import { storageCommand } from './storage.js';
import { dataCommand } from './data.js';
import { evalCommand, mergeCommand } from './merge.js';
import { demoCommand, studyCommand, sweepCommand, trainCommand, workerCommand } from './experiment.js';

/** Every command; each lives in its own file under src/cli and only parses flags. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const commands: CommandModule<any, any>[] = [profileCommand, storageCommand, dataCommand, trainCommand, studyCommand, sweepCommand, demoCommand, evalCommand, mergeCommand, workerCommand];

export async function main(argv: string[]): Promise<void> {
  // tfjs's production mode: no "install tfjs-node" banner on stderr (ctquant picks its backends itself).
  tf.env().set('PROD', true);
  try {
    let parser = yargs(argv)
      .scriptName('ctquant')
      .usage('$0 <command> [options]\n\nWhich CT readout pixels can run on a lower-bit ADC, and what it costs segmentation.')
      .option('json', { type: 'boolean', default: false, describe: 'machine-readable output on stdout' })
      .demandCommand(1, 'Name a command (ctquant --help lists them).')
      .strict()
      .help()
      .alias('h', 'help')
      .version()
      .wrap(Math.min(110, process.stdout.columns ?? 100))
      .fail((msg, err) => {
        if (err) throw err;
        throw Object.assign(new Error(msg), { usage: true });
      });
    for (const c of commands) parser = parser.command(c);
    await parser.parseAsync();
  } catch (e) {
    if (isUserError(e)) {
      process.stderr.write(`ctquant: ${e.format()}\n`);
      process.exitCode = e.exitCode;
      return;
    }
    if (e instanceof Error && (e as { usage?: boolean }).usage) {
      process.stderr.write(`ctquant: ${e.message}\nRun ctquant --help for usage.\n`);
      process.exitCode = 2;
      return;
    }
    throw e;
  }
}
