import { existsSync } from 'node:fs';
import { UserError } from '../errors.js';
import { writeFileAtomic } from '../util/atomic.js';
import { readRegularFile } from '../util/fs-safe.js';
import { crc32 } from '../util/crc32.js';

/**
 * One training checkpoint in one file, written atomically: "CTQCKPT1", a 4-byte little-endian
 * header length, a JSON header (state + tensor index + the CRC-32 of the tensor data), then the
 * float32 tensor data. A single file means a crash can never leave a header that points at
 * half-written data; the CRC means a damaged disk or copy is refused instead of resumed from
 * weights that are silently wrong (checkpoints written before it had none and are still read).
 */
export interface NamedArray {
  name: string;
  shape: number[];
  values: Float32Array;
}

export interface CheckpointData<S> {
  state: S;
  arrays: NamedArray[];
}

const MAGIC = 'CTQCKPT1';

export function encodeCheckpoint<S>(data: CheckpointData<S>): Buffer {
  let offset = 0;
  const index = data.arrays.map((a) => {
    const entry = { name: a.name, shape: a.shape, offset, length: a.values.length };
    offset += a.values.length;
    return entry;
  });
  const body = Buffer.alloc(offset * 4);
  let pos = 0;
  for (const a of data.arrays) {
    const bytes = Buffer.from(a.values.buffer, a.values.byteOffset, a.values.byteLength);
    bytes.copy(body, pos);
    pos += bytes.length;
  }
  const header = Buffer.from(JSON.stringify({ state: data.state, index, bodyCrc32: crc32(body) }), 'utf8');
  const out = Buffer.alloc(8 + 4 + header.length);
  out.write(MAGIC, 0, 'ascii');
  out.writeUInt32LE(header.length, 8);
  header.copy(out, 12);
  return Buffer.concat([out, body]);
}

export function decodeCheckpoint<S>(buf: Buffer, file: string): CheckpointData<S> {
  if (buf.length < 12 || buf.toString('ascii', 0, 8) !== MAGIC)
    throw new UserError('not a ctquant checkpoint (bad magic)', { file });
  const headerLength = buf.readUInt32LE(8);
  if (12 + headerLength > buf.length) throw new UserError('checkpoint is truncated (header)', { file });
  let parsed: unknown;
  try {
    parsed = JSON.parse(buf.toString('utf8', 12, 12 + headerLength));
  } catch {
    throw new UserError('checkpoint header is corrupt', { file });
  }
  const header = checkHeader<S>(parsed, file);
  const start = 12 + headerLength;
  const arrays = header.index.map((e) => {
    const from = start + e.offset * 4;
    const to = from + e.length * 4;
    if (to > buf.length) throw new UserError(`checkpoint is truncated (array ${e.name})`, { file });
    // Copy into an aligned buffer: the body need not start at a multiple of 4.
    const values = new Float32Array(e.length);
    Buffer.from(values.buffer).set(buf.subarray(from, to));
    return { name: e.name, shape: e.shape, values };
  });
  if (header.bodyCrc32 !== undefined && crc32(buf.subarray(start)) !== header.bodyCrc32) {
    throw new UserError('checkpoint data does not match its checksum (file damaged); delete it to train again', { file });
  }
  // The trainer never saves after a NaN loss, so a non-finite weight or moment is damage (or a
  // checkpoint from elsewhere): resuming from it would train on NaN, evaluating it would score NaN.
  for (const a of arrays) {
    const at = firstNonFinite(a.values);
    if (at >= 0) throw new UserError(`checkpoint array ${a.name} holds a non-finite value (${a.values[at]}) at index ${at}; delete it to train again`, { file });
  }
  return { state: header.state, arrays };
}

/** Index of the first NaN or ±Infinity, or −1 (v − v is 0 for every finite v and NaN otherwise; a plain loop: 30 MB per epoch). */
function firstNonFinite(values: Float32Array): number {
  for (let i = 0; i < values.length; i++) if (values[i]! - values[i]! !== 0) return i;
  return -1;
}

interface IndexEntry {
  name: string;
  shape: number[];
  offset: number;
  length: number;
}

/** A parsed header with a state object and a well-formed tensor index (shape × = length), or a UserError naming the file. */
function checkHeader<S>(parsed: unknown, file: string): { state: S; index: IndexEntry[]; bodyCrc32?: number } {
  const bad = (what: string): never => {
    throw new UserError(`checkpoint header is corrupt (${what})`, { file });
  };
  const isCount = (x: unknown) => typeof x === 'number' && Number.isInteger(x) && x >= 0;
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return bad('not an object');
  const h = parsed as { state?: unknown; index?: unknown; bodyCrc32?: unknown };
  if (typeof h.state !== 'object' || h.state === null) return bad('no state');
  if (!Array.isArray(h.index)) return bad('no tensor index');
  h.index.forEach((e: unknown, i) => {
    const x = e as Partial<IndexEntry> | null;
    if (typeof x !== 'object' || x === null || typeof x.name !== 'string') return bad(`index entry ${i}`);
    if (!Array.isArray(x.shape) || !x.shape.every(isCount) || !isCount(x.offset) || !isCount(x.length)) return bad(`array ${x.name}`);
    if (x.shape.reduce((a, b) => a * b, 1) !== x.length) return bad(`array ${x.name}: shape does not match its length`);
  });
  if (h.bodyCrc32 !== undefined && !(isCount(h.bodyCrc32) && (h.bodyCrc32 as number) <= 0xffffffff)) return bad('bodyCrc32');
  return { state: h.state as S, index: h.index as IndexEntry[], ...(h.bodyCrc32 !== undefined ? { bodyCrc32: h.bodyCrc32 as number } : {}) };
}

export function saveCheckpoint<S>(path: string, data: CheckpointData<S>): void {
  writeFileAtomic(path, encodeCheckpoint(data));
}

export function loadCheckpoint<S>(path: string): CheckpointData<S> | null {
  if (!existsSync(path)) return null;
  // readRegularFile: a folder in its place is one line, a FIFO is not read (it would block forever).
  return decodeCheckpoint<S>(readRegularFile(path, 'checkpoint file'), path);
}
