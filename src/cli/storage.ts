import type { CommandModule } from 'yargs';
import { UserError } from '../errors.js';
import { loadProfile } from '../profile/load.js';
import { storageReport } from '../profile/storage.js';
import { formatTable, printJson } from './format.js';

interface StorageArgs {
  profile: string[];
  budget?: number[];
  json: boolean;
}

export const storageCommand: CommandModule<object, StorageArgs> = {
  command: 'storage',
  describe: 'What a frame costs to store at each budget: native vs. mixed layout, exact',
  builder: {
    profile: { type: 'string', array: true, demandOption: true, describe: 'detector profile JSON (repeatable)' },
    budget: {
      type: 'number',
      array: true,
      describe: "budget(s) of the profile's kind (fraction quantized, or bits per pixel); default: the profile's budget and sweep",
    },
  },
  handler: (args) => {
    const reports = args.profile.map((file) => {
      const profile = loadProfile(file);
      for (const b of args.budget ?? [])
        if (!Number.isFinite(b)) throw new UserError(`--budget: expected a number, got ${String(b)}`);
      return { file, profile: profile.name, rows: storageReport(profile, args.budget) };
    });
    if (args.json) return printJson(reports);
    for (const r of reports) {
      const kind = r.rows[0]?.budgetKind === 'bitsPerPixel' ? 'bits/pixel' : 'fraction';
      process.stdout.write(`\n${r.profile}  (${r.file})\n`);
      process.stdout.write(
        `${formatTable(
          [`budget (${kind})`, 'native bits/frame', 'layout bits/frame', 'native bytes', 'layout bytes', 'bits/pixel', 'ratio', 'saving %'],
          r.rows.map((s) => [
            s.budget,
            s.nativeBitsPerFrame,
            s.layoutBitsPerFrame,
            s.nativeBytesPerFrame,
            s.layoutBytesPerFrame,
            s.layoutBitsPerPixelExact,
            Number(s.compressionRatio.toFixed(4)),
            Number(s.savingPercent.toFixed(4)),
          ]),
        )}\n`,
      );
    }
  },
};
