import { readFileSync, statSync } from 'node:fs';
import { UserError } from '../errors.js';
import { describeErrno, requireRegularFile } from './fs-safe.js';

/** Reads and parses a JSON file, turning every failure into a UserError that names the file. */
export function readJsonFile(path: string, what: string): unknown {
  let text: string;
  try {
    if (statSync(path).isDirectory()) throw new UserError(`expected a ${what} JSON file, found a folder`, { file: path });
    // A FIFO or device would block or never end: refuse anything but a regular file.
    requireRegularFile(path, `${what} JSON file`);
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if (e instanceof UserError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'file not found' : code === 'EACCES' ? 'permission denied' : `cannot read: ${describeErrno(code)}${code ? ` (${code})` : ''}`;
    throw new UserError(`${what}: ${why}`, { file: path });
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new UserError(`not valid JSON (${(e as Error).message})`, { file: path });
  }
}

/** Reads a JSON schema shipped in schemas/ (resolved from this module, so it works from src/ and dist/). */
export function readShippedSchema(name: string): { $id: string } {
  return JSON.parse(readFileSync(new URL(`../../schemas/${name}`, import.meta.url), 'utf8')) as { $id: string };
}
