/**
 * File-system reads that end in a one-line UserError naming the file (never a stack trace):
 * symlink loops, dangling symlinks, permission denied, non-UTF-8 names, FIFOs and other
 * non-regular files where a file is expected (reading a FIFO would block forever).
 */
import { lstatSync, readFileSync, readdirSync, statSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../errors.js';

/** Plain words for the errno codes a user can fix. */
export function describeErrno(code: string | undefined): string {
  switch (code) {
    case 'ENOENT': return 'not found';
    case 'ELOOP': return 'symlink loop';
    case 'EACCES':
    case 'EPERM': return 'permission denied';
    case 'ENOTDIR': return 'a path component is not a folder';
    case 'EISDIR': return 'is a folder';
    case 'ENOSPC': return 'disk full';
    case 'EDQUOT': return 'disk quota exceeded';
    case 'EROFS': return 'read-only file system';
    case 'EMFILE':
    case 'ENFILE': return 'too many open files';
    case 'ENAMETOOLONG': return 'name too long';
    case 'EIO': return 'input/output error';
    default: return code ?? 'unknown error';
  }
}

/** Errno codes that describe the machine or the input, not a bug: these become UserErrors. */
const USER_ERRNOS = new Set(['ENOENT', 'ELOOP', 'EACCES', 'EPERM', 'ENOTDIR', 'EISDIR', 'ENOSPC', 'EDQUOT', 'EROFS', 'EMFILE', 'ENFILE', 'ENAMETOOLONG', 'EIO', 'EFBIG', 'ENXIO']);

/** A UserError for a failed file operation (`action`: "cannot read", "cannot write"); other errors pass through unchanged. */
export function fsUserError(e: unknown, file: string, action: string): unknown {
  if (e instanceof UserError) return e;
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (code === undefined || !USER_ERRNOS.has(code)) return e;
  // A missing target behind an existing link is a dangling symlink: say so rather than "not found".
  let why = describeErrno(code);
  if (code === 'ENOENT') {
    try {
      if (lstatSync(file).isSymbolicLink()) why = 'dangling symlink (its target does not exist)';
    } catch {
      /* the path itself is missing */
    }
  }
  const exitCode = code === 'ENOSPC' || code === 'EDQUOT' || code === 'EROFS' || code === 'EIO' ? 1 : 2;
  return new UserError(`${action}: ${why} (${code})`, { file, exitCode });
}

/** stat() following links, with errors as UserErrors. */
export function statPath(path: string, action = 'cannot read'): Stats {
  try {
    return statSync(path);
  } catch (e) {
    throw fsUserError(e, path, action);
  }
}

/** Refuses anything but a regular file (a FIFO, socket or device would block or never end). */
export function requireRegularFile(path: string, what = 'file'): Stats {
  const st = statPath(path);
  if (st.isDirectory()) throw new UserError(`expected a ${what}, found a folder`, { file: path });
  if (!st.isFile()) throw new UserError(`expected a ${what}, found a ${kindOf(st)}`, { file: path });
  return st;
}

/**
 * Reads a regular file whole; refuses non-regular files and files over `maxBytes`. Every failure
 * of the read itself is a UserError: an error with a system code (an errno outside USER_ERRNOS,
 * such as ESTALE on a network share, or Node's ERR_FS_FILE_TOO_LARGE past 2 GiB) is the machine
 * or the file, never a bug in the caller.
 */
export function readRegularFile(path: string, what = 'file', maxBytes = Infinity): Buffer {
  const st = requireRegularFile(path, what);
  if (st.size > maxBytes) throw new UserError(`${what} is ${st.size} bytes, more than the ${maxBytes} allowed`, { file: path });
  try {
    return readFileSync(path);
  } catch (e) {
    const known = fsUserError(e, path, 'cannot read');
    if (known instanceof UserError) throw known;
    const code = (e as NodeJS.ErrnoException | undefined)?.code;
    if (typeof code !== 'string') throw e;
    throw new UserError(`cannot read ${what}: ${code === 'ERR_FS_FILE_TOO_LARGE' ? 'larger than the 2 GiB Node reads at once' : code}`, { file: path });
  }
}

/** Refuses anything but a folder. */
export function requireFolder(path: string, what: string): void {
  let st: Stats;
  try {
    st = statSync(path);
  } catch (e) {
    const u = fsUserError(e, path, `${what} folder`);
    throw (e as NodeJS.ErrnoException).code === 'ENOENT' && !(u instanceof UserError && /dangling/.test(u.message))
      ? new UserError(`${what} folder not found`, { file: path })
      : u;
  }
  if (!st.isDirectory()) throw new UserError(`${what} is not a folder`, { file: path });
}

function kindOf(st: Stats): string {
  if (st.isFIFO()) return 'FIFO (named pipe)';
  if (st.isSocket()) return 'socket';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'device';
  return 'special file';
}

/**
 * Entry names of a folder, sorted; refuses names that are not valid UTF-8 (Node would replace
 * their bytes, so the file could never be opened under the name it reports).
 */
export function readFolderNames(dir: string): string[] {
  let raw: Buffer[];
  try {
    raw = readdirSync(dir, { encoding: 'buffer' });
  } catch (e) {
    throw fsUserError(e, dir, 'cannot list folder');
  }
  const names = raw.map((b) => {
    const name = b.toString('utf8');
    if (!Buffer.from(name, 'utf8').equals(b)) {
      throw new UserError(`file name is not valid UTF-8 (${JSON.stringify(b.toString('latin1'))}): rename it`, { file: dir });
    }
    return name;
  });
  return names.sort();
}

/**
 * Regular, non-hidden files of a folder, sorted by name. Links are followed; a dangling link or a
 * link loop is a UserError naming it; FIFOs, sockets and sub-folders are left out.
 */
export function listRegularFiles(dir: string): string[] {
  return readFolderNames(dir)
    .filter((f) => !f.startsWith('.'))
    .filter((f) => statPath(join(dir, f)).isFile());
}
