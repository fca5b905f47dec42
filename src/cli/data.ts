import { existsSync, readdirSync } from 'node:fs';
import { totalmem } from 'node:os';
import { join } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { printable, UserError } from '../errors.js';
import { loadProfile } from '../profile/load.js';
import { writeFileAtomic } from '../util/atomic.js';
import { generatePhantoms, MAX_PHANTOM_SIZE, MIN_PHANTOM_SIZE } from '../data/phantom.js';
import { writePngFolder } from '../data/folder.js';
import { loadDatasetWatched } from '../data/load.js';
import { summarizeDataset } from '../data/summary.js';
import { renderPreviewSheet } from '../data/preview.js';
import { displayWindowCounts } from '../data/hu.js';
import { COVID_CT_20_VOLUME_STARTS } from '../data/volumes.js';
import type { CtDataset } from '../data/types.js';
import { formatTable, printJson } from './format.js';
import { dataFlagOptions, limitsFromFlags, type DataFlagArgs } from './data-flags.js';
import { parseIntegerList } from './args.js';
import { phantomMemoryProblem, RUNTIME_BYTES } from '../experiments/memory.js';

interface SynthArgs {
  out: string;
  n: number;
  size: number;
  seed: number;
  profile?: string;
  nativeBits?: number;
  lesionFreeShare: number;
  slicesPerVolume: number;
  preview?: string;
  force: boolean;
  json: boolean;
}

interface InspectArgs extends DataFlagArgs {
  dir: string;
  imageDir: string;
  maskDir: string;
  volumeStarts?: string[];
  volumesFile?: string;
  nativeBits?: number;
  skipBad: boolean;
  lesionSlicesOnly: boolean;
  preview?: string;
  json: boolean;
}

/** `--volume-starts 0,159,279` (or with spaces) or the name `covid-ct-20` (its README's list). */
function parseVolumeStarts(text: string | undefined): number[] | undefined {
  if (text === undefined) return undefined;
  if (text.trim().toLowerCase() === 'covid-ct-20') return [...COVID_CT_20_VOLUME_STARTS];
  return parseIntegerList('volume-starts', text);
}

function checkInt(name: string, v: number, lo: number, hi: number): void {
  if (!Number.isInteger(v) || v < lo || v > hi) throw new UserError(`--${name}: expected an integer ${lo}..${hi}, got ${String(v)}`);
}

async function writePreview(ds: CtDataset, file: string, window?: [number, number]): Promise<void> {
  writeFileAtomic(file, await renderPreviewSheet(ds, { count: 8, window }));
}

const synthCommand: CommandModule<object, SynthArgs> = {
  command: 'synth',
  describe: 'Write synthetic lung CT phantoms with lesion masks as a PNG folder (ct/, covid/, volumes.json)',
  builder: (y: Argv) =>
    y
      .option('out', { type: 'string', demandOption: true, describe: 'output folder' })
      .option('n', { type: 'number', default: 64, describe: 'number of slices' })
      .option('size', { type: 'number', default: 64, describe: `image side in pixels (${MIN_PHANTOM_SIZE}..${MAX_PHANTOM_SIZE})` })
      .option('seed', { type: 'number', default: 1 })
      .option('profile', { type: 'string', describe: 'detector profile JSON: its nativeBits sets the stored depth' })
      .option('native-bits', { type: 'number', describe: 'native ADC depth when no profile is given (default 12)' })
      .option('lesion-free-share', { type: 'number', default: 0.2, describe: 'share of slices without lesion' })
      .option('slices-per-volume', { type: 'number', default: 4, describe: 'slices per synthetic patient' })
      .option('preview', { type: 'string', describe: 'also write a PNG sheet of a few slices, lesions outlined' })
      .option('force', { type: 'boolean', default: false, describe: 'write into a folder that already holds images' })
      .conflicts('profile', 'native-bits') as unknown as Argv<SynthArgs>,
  handler: async (args) => {
    checkInt('n', args.n, 1, 1_000_000);
    checkInt('size', args.size, MIN_PHANTOM_SIZE, MAX_PHANTOM_SIZE);
    checkInt('seed', args.seed, 0, 2 ** 32 - 1);
    checkInt('slices-per-volume', args.slicesPerVolume, 1, 10_000);
    if (!(args.lesionFreeShare >= 0 && args.lesionFreeShare <= 1)) throw new UserError(`--lesion-free-share: expected 0..1, got ${args.lesionFreeShare}`);
    const tooBig = phantomMemoryProblem(args.n, args.size, totalmem());
    if (tooBig) throw new UserError(tooBig);
    const nativeBits = args.profile ? loadProfile(args.profile).nativeBits : (args.nativeBits ?? 12);
    checkInt('native-bits', nativeBits, 1, 16);
    const imagesDir = join(args.out, 'ct');
    if (!args.force && existsSync(imagesDir) && readdirSync(imagesDir).length > 0) {
      throw new UserError('folder already holds images; use --force to overwrite', { file: imagesDir });
    }
    const ds = generatePhantoms({
      n: args.n,
      size: args.size,
      seed: args.seed,
      nativeBits,
      lesionFreeShare: args.lesionFreeShare,
      slicesPerVolume: args.slicesPerVolume,
    });
    await writePngFolder(ds, args.out);
    // Phantoms are in known HU, so show them in a lung window (level −500, width 1500 HU).
    if (args.preview) await writePreview(ds, args.preview, displayWindowCounts(-500, 1500, nativeBits));
    const summary = summarizeDataset(ds);
    if (args.json) return printJson({ out: args.out, ...summary, preview: args.preview ?? null });
    process.stdout.write(
      `wrote ${summary.slices} slices ${summary.width}×${summary.height} at ${nativeBits} bits ` +
        `(${summary.volumes} ${summary.volumes === 1 ? 'volume' : 'volumes'}, ${(summary.slicesWithLesion * 100).toFixed(0)}% with lesion) to ${args.out}\n`,
    );
    if (args.preview) process.stdout.write(`preview: ${args.preview}\n`);
  },
};

const inspectCommand: CommandModule<object, InspectArgs> = {
  command: 'inspect <dir>',
  describe: 'Load a dataset folder (PNG pairs, NIfTI or DICOM) and print what it holds',
  builder: (y: Argv) =>
    dataFlagOptions(y)
      .positional('dir', { type: 'string', demandOption: true, describe: 'dataset folder' })
      .option('image-dir', { type: 'string', default: 'ct', describe: 'image sub-folder' })
      .option('mask-dir', { type: 'string', default: 'covid', describe: 'mask sub-folder' })
      .option('volume-starts', { type: 'string', array: true, describe: 'first slice index of each volume, separated by commas or spaces, or "covid-ct-20"' })
      .option('volumes-file', { type: 'string', describe: 'a volumes.json kept outside the dataset folder' })
      .option('native-bits', { type: 'number', describe: 'native depth of 16-bit PNG samples, or what NIfTI/DICOM HU are digitised to (12)' })
      .option('skip-bad', { type: 'boolean', default: false, describe: 'skip bad files and report them instead of failing' })
      .option('lesion-slices-only', { type: 'boolean', default: false, describe: 'NIfTI/DICOM: keep only slices with lesion' })
      .option('preview', { type: 'string', describe: 'also write a PNG sheet of a few slices, lesions outlined' }) as unknown as Argv<InspectArgs>,
  handler: async (args) => {
    if (args.nativeBits !== undefined) checkInt('native-bits', args.nativeBits, 1, 16);
    // inspect holds every slice at its own size.
    const held = { maxBytes: totalmem() - RUNTIME_BYTES, remedy: 'inspect a part of the folder at a time (its files in a folder of their own)' };
    const ds = await loadDatasetWatched(args.dir, {
      imageDir: args.imageDir,
      maskDir: args.maskDir,
      volumeStarts: parseVolumeStarts(args.volumeStarts?.join(',')),
      volumesFile: args.volumesFile,
      nativeBits: args.nativeBits,
      skipBad: args.skipBad,
      lesionSlicesOnly: args.lesionSlicesOnly,
      ...(args.split ? { split: args.split } : {}),
      ...(args.orient ? { orient: args.orient } : {}),
      ...limitsFromFlags(args),
    }, held);
    if (args.preview) await writePreview(ds, args.preview);
    const s = summarizeDataset(ds);
    if (args.json) return printJson({ ...s, preview: args.preview ?? null });
    const out = process.stdout;
    out.write(`${printable(s.source)}\n`);
    out.write(
      formatTable(
        ['slices', 'size', 'native bits', 'value range', 'lesion fraction %', 'slices with lesion %', 'volumes'],
        [[s.slices, `${s.width}×${s.height}`, s.nativeBits, `${s.valueRange[0]}..${s.valueRange[1]}`, Number((s.lesionFraction * 100).toFixed(3)), Number((s.slicesWithLesion * 100).toFixed(1)), s.volumes]],
      ) + '\n',
    );
    out.write(`volume ids: ${printable(s.volumeRule ?? 'given by the loader')}\n`);
    out.write(`orientation: ${printable(s.orientation ?? 'none recorded (PNG)')}\n`);
    const vols = Object.entries(s.slicesPerVolume);
    out.write(`slices per volume: ${vols.slice(0, 30).map(([id, c]) => `${printable(id)}:${c}`).join(' ')}${vols.length > 30 ? ` … (${vols.length} volumes)` : ''}\n`);
    if (s.skipped && s.skipped.length > 0) {
      out.write(`skipped ${s.skipped.length} file(s):\n`);
      for (const k of s.skipped) out.write(`  ${printable(`${k.file}: ${k.reason}`)}\n`);
    }
    if (args.preview) out.write(`preview: ${args.preview}\n`);
  },
};

export const dataCommand: CommandModule<object, object> = {
  command: 'data <command>',
  describe: 'Synthetic phantoms and real scans: write, load, inspect',
  builder: (y: Argv) => y.command(synthCommand).command(inspectCommand).demandCommand(1),
  handler: () => {},
};
