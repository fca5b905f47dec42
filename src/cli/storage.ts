import type { CommandModule } from 'yargs';
import { loadProfile } from '../profile/load.js';
import { formatTable, printJson } from './format.js';
import { checkBudgets, parseNumberList, terminalSafe } from './args.js';

interface StorageArgs {
  profile: string[];
  budget?: string[];
  json: boolean;
}

export const storageCommand: CommandModule<object, StorageArgs> = {
  command: 'storage',
  describe: 'What a frame costs to store at each budget: native vs. mixed layout, exact',
  builder: {
    profile: { type: 'string', array: true, demandOption: true, describe: 'detector profile JSON (repeatable)' },
    budget: {
      type: 'string',
      array: true,
      describe: "budget(s) of the profile's kind (fraction quantized in [0, 1], or bits per pixel in [lowest mode, native]), separated by commas or spaces; default: the profile's budget and sweep",
    },
  },
  handler: async (args) => {
    const budgets = args.budget === undefined ? undefined : parseNumberList('budget', args.budget);
    // Every profile and budget checked before anything is printed.
    const checked = args.profile.map((file) => {
      const profile = loadProfile(file);
      if (budgets) checkBudgets('budget', budgets, profile);
      return { file, profile };
    });
    // Exact fractions come from mathjs, loaded here only: it costs as much start-up time as tfjs.
    const { detectorStorageReport, storageReport } = await import('../profile/storage.js');
    // Detector-space profiles (fraction budgets) add the frame as the detector stores it: views × channels readings.
    const reports = checked.map(({ file, profile }) => ({
      file,
      profile: profile.name,
      rows: storageReport(profile, budgets),
      ...(profile.detector && profile.budget.kind === 'fraction' ? { detector: detectorStorageReport(profile, budgets) } : {}),
    }));
    if (args.json) return printJson(reports);
    for (const r of reports) {
      const kind = r.rows[0]?.budgetKind === 'bitsPerPixel' ? 'bits/pixel' : 'fraction';
      process.stdout.write(`\n${terminalSafe(r.profile)}  (${terminalSafe(r.file)})\n`);
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
      if (r.detector) {
        const d = r.detector[0]!;
        process.stdout.write(`detector space: frame of ${d.views} views × ${d.channels} channels, reduced channels at ${d.keptBits} bits\n`);
        process.stdout.write(
          `${formatTable(
            ['budget (fraction)', 'reduced channels', 'native bits/frame', 'layout bits/frame', 'native bytes', 'layout bytes', 'bits/reading', 'saving %'],
            r.detector.map((s) => [
              s.budget,
              s.reducedChannels,
              s.nativeBitsPerFrame,
              s.layoutBitsPerFrame,
              s.nativeBytesPerFrame,
              s.layoutBytesPerFrame,
              s.bitsPerReadingExact,
              Number(s.savingPercent.toFixed(4)),
            ]),
          )}\n`,
        );
      }
    }
  },
};
