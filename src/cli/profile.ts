import type { Argv, CommandModule } from 'yargs';
import { UserError } from '../errors.js';
import { loadProfile } from '../profile/load.js';
import { printJson } from './format.js';
import { terminalSafe } from './args.js';

interface ValidateArgs {
  files: string[];
  json: boolean;
}

const validate: CommandModule<object, ValidateArgs> = {
  command: 'validate <files...>',
  describe: 'Check detector profiles against schemas/detector-profile.schema.json',
  builder: (y) => y.positional('files', { type: 'string', array: true, demandOption: true }) as unknown as Argv<ValidateArgs>,
  handler: (args) => {
    const results = args.files.map((file) => {
      try {
        const p = loadProfile(file);
        return { file, ok: true as const, name: p.name };
      } catch (e) {
        if (!(e instanceof UserError)) throw e;
        return { file, ok: false as const, error: e.format() };
      }
    });
    if (args.json) printJson(results);
    else
      for (const r of results) {
        if (r.ok) process.stdout.write(`ok  ${terminalSafe(r.file)} (${terminalSafe(r.name)})\n`);
        else process.stderr.write(`ctquant: ${terminalSafe(r.error)}\n`);
      }
    if (results.some((r) => !r.ok)) process.exitCode = 2;
  },
};

export const profileCommand: CommandModule<object, object> = {
  command: 'profile <command>',
  describe: 'Detector profiles: validate',
  builder: (y) => y.command(validate as CommandModule<object, ValidateArgs>).demandCommand(1),
  handler: () => undefined,
};
