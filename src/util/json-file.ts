import { readFileSync, statSync } from 'node:fs';
import { UserError } from '../errors.js';
import { writeFileAtomic } from './atomic.js';
import { describeErrno, requireRegularFile } from './fs-safe.js';

/** Reads and parses a JSON file, turning every failure into a UserError that names the file. */
export function readJsonFile(path: string, what: string): unknown {
  let text: string;
  try {
    if (statSync(path).isDirectory()) throw new UserError(`expected a ${what} JSON file, found a folder`, { file: path });
    // A FIFO or device would block or never end: refuse anything but a regular file.
    const st = requireRegularFile(path, `${what} JSON file`);
    // Past V8's longest string the read fails anyway, after holding the whole file (a 3 GB file: 4 GB, 23 s).
    if (st.size > MAX_JSON_BYTES) throw new UserError(`${what} is ${st.size} bytes, more than the ${MAX_JSON_BYTES} a JSON file can be read as`, { file: path });
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if (e instanceof UserError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'file not found' : code === 'EACCES' ? 'permission denied' : `cannot read: ${describeErrno(code)}${code ? ` (${code})` : ''}`;
    throw new UserError(`${what}: ${why}`, { file: path });
  }
  let parsed: unknown;
  try {
    // A UTF-8 byte order mark (Windows editors write one) is no JSON token, but the file is fine.
    parsed = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (e) {
    throw new UserError(`not valid JSON (${(e as Error).message})`, { file: path });
  }
  const depth = nestingDepth(parsed, MAX_JSON_DEPTH);
  if (depth > MAX_JSON_DEPTH) throw new UserError(`nested more than ${MAX_JSON_DEPTH} levels deep; no ctquant file is`, { file: path });
  return parsed;
}

/** The longest string V8 holds (2^29 − 24 characters): no larger JSON file can be parsed. */
export const MAX_JSON_BYTES = 2 ** 29 - 24;

/** ctquant's JSON files nest a few levels; far deeper input would overflow recursive validators and printers. */
export const MAX_JSON_DEPTH = 64;

/** Nesting depth of a parsed JSON value, counted without recursion and stopping once past `limit`. */
export function nestingDepth(value: unknown, limit = Infinity): number {
  let deepest = 0;
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, d] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    deepest = Math.max(deepest, d + 1);
    if (deepest > limit) return deepest;
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, d + 1]);
  }
  return deepest;
}

/** Reads a JSON schema shipped in schemas/ (resolved from this module, so it works from src/ and dist/). */
export function readShippedSchema(name: string): { $id: string } {
  return JSON.parse(readFileSync(new URL(`../../schemas/${name}`, import.meta.url), 'utf8')) as { $id: string };
}

/** Writes a value as 2-space indented JSON with a final newline, atomically. */
export function writeJsonAtomic(path: string, value: unknown): void {
  writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`);
}
