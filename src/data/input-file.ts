import { readFileSync } from 'node:fs';
import { UserError } from '../errors.js';

/** The bytes of a data input file; a UserError naming the file, with the system's error code, if it cannot be read. */
export function readInputFile(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new UserError(`cannot read file (${(e as NodeJS.ErrnoException).code ?? String(e)})`, { file: path });
  }
}
