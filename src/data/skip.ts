/**
 * What a loader does with a bad input: under `skipBad` it leaves the input out and lists it in
 * the dataset's `skipped`; otherwise the UserError naming the file stops the load. Errors that
 * are not UserErrors are bugs and always propagate, and so does a LoadStop: it is about the whole
 * load (the memory it holds), not about one input.
 */
import { UserError } from '../errors.js';
import type { SkippedInput } from './types.js';

/** A UserError that stops a load whatever `skipBad` says. */
export class LoadStop extends UserError {}

export interface SkipCollector {
  /** The inputs left out so far, each with its file and reason. */
  readonly skipped: SkippedInput[];
  /** Records `e` as a skipped input when it is a UserError and skipBad is set; else rethrows it. */
  skipOrThrow(e: unknown): void;
  /** The dataset's `skipped` field: present (possibly empty) exactly when skipBad is set. */
  datasetField(): { skipped?: SkippedInput[] };
}

export function skipCollector(skipBad: boolean | undefined): SkipCollector {
  const skipped: SkippedInput[] = [];
  return {
    skipped,
    skipOrThrow(e) {
      if (!(e instanceof UserError) || !skipBad || e instanceof LoadStop) throw e;
      skipped.push({ file: e.file ?? '?', reason: e.message });
    },
    datasetField: () => (skipBad ? { skipped } : {}),
  };
}
