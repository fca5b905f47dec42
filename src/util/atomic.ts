import { mkdirSync, renameSync, writeFileSync, rmSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';
import { UserError } from '../errors.js';
import { fsUserError } from './fs-safe.js';

let counter = 0;

/**
 * A fault to inject into writes (tests only): called before each folder creation and file write
 * with the target path; an error it returns is thrown as if the file system had raised it (e.g.
 * `{ code: 'ENOSPC' }` for a full disk at the n-th write). `null` removes it.
 */
type WriteFault = (op: 'mkdir' | 'write', path: string) => NodeJS.ErrnoException | undefined;
let writeFault: WriteFault | null = null;

export function injectWriteFault(fault: WriteFault | null): void {
  writeFault = fault;
}

function faultAt(op: 'mkdir' | 'write', path: string): void {
  const e = writeFault?.(op, path);
  if (e) throw e;
}

/** Creates a folder (and its parents); a full disk, a read-only file system or a permission problem is a UserError naming it. */
export function makeFolder(dir: string): void {
  try {
    faultAt('mkdir', dir);
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    // EEXIST from a recursive mkdir: a file holds the name (errno codes alone would leave a stack).
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new UserError('cannot create folder: a file of that name is in the way', { file: dir });
    throw fsUserError(e, dir, 'cannot create folder');
  }
}

/** Writes `data` to `path` through a temp file in the same folder and a rename, so a
 * reader never sees a half-written file and a crash leaves the old one intact. A full disk,
 * a read-only file system or a permission problem is a UserError naming the file. */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  const dir = dirname(path);
  makeFolder(dir);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${counter++}.tmp`);
  try {
    faultAt('write', path);
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw fsUserError(e, path, 'cannot write');
  }
}
