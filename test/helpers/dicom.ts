import { deflateRawSync } from 'node:zlib';

/** Transfer syntaxes the writer knows (PS3.5 §10, annex A). */
export const IMPLICIT_LE = '1.2.840.10008.1.2';
export const EXPLICIT_LE = '1.2.840.10008.1.2.1';
export const DEFLATED_LE = '1.2.840.10008.1.2.1.99';

/** What encodeDicom writes; an element left undefined is left out of the file. */
export interface DicomFileOptions {
  rows: number;
  cols: number;
  /** rows × cols stored values (words as written: bits above High Bit included), row-major. */
  pixels: Int16Array | Uint16Array | Uint8Array;
  patient: string;
  instance?: number;
  /** ImagePositionPatient, mm. */
  position?: number[];
  /** ImageOrientationPatient: row then column direction cosines. */
  orientation?: number[];
  /** NumberOfFrames (0028,0008); absent: left out (a single-frame file). */
  frames?: number;
  /** Rescale: HU = slope × stored + intercept. */
  slope?: number;
  intercept?: number;
  /** Bits Allocated (default 16: 8 for Uint8Array pixels), Bits Stored (default Bits Allocated), High Bit (default Bits Stored − 1). */
  bitsAllocated?: number;
  bitsStored?: number;
  highBit?: number;
  /** Pixel Representation (default 1: signed); null leaves it out. */
  pixelRepresentation?: number | null;
  /** Pixel Padding Value (0028,0120), written as SS or US by Pixel Representation. */
  paddingValue?: number;
  /** Modality (0008,0060); absent: left out. */
  modality?: string;
  /** Photometric Interpretation (0028,0004). */
  photometric?: string;
  /** Transfer syntax of the data set (default explicit VR little endian). */
  transferSyntax?: string;
  /** false: no preamble, no "DICM", no meta group: a bare implicit-VR little-endian data set (ACR-NEMA style). */
  part10?: boolean;
  /** Pixel data tag element (default 0x0010, Pixel Data; 0x0008 Float Pixel Data). */
  pixelElement?: number;
  /** Pixel data of undefined length, as encapsulated (compressed) syntaxes write it: an empty offset table, one fragment. */
  encapsulated?: boolean;
}

/** One element, its value padded to even length as DICOM asks: explicit VR (PS3.5 §7.1.2) or implicit (§7.1.3). */
function element(group: number, tag: number, vr: string, value: Buffer, implicit = false): Buffer {
  if (value.length % 2) value = Buffer.concat([value, Buffer.from([vr === 'UI' || vr === 'OB' ? 0 : 0x20])]);
  if (implicit) {
    const h = Buffer.alloc(8);
    h.writeUInt16LE(group, 0);
    h.writeUInt16LE(tag, 2);
    h.writeUInt32LE(value.length, 4);
    return Buffer.concat([h, value]);
  }
  const long = ['OB', 'OW', 'OF', 'SQ', 'UN', 'UT'].includes(vr);
  const h = Buffer.alloc(long ? 12 : 8);
  h.writeUInt16LE(group, 0);
  h.writeUInt16LE(tag, 2);
  h.write(vr, 4, 'latin1');
  if (long) h.writeUInt32LE(value.length, 8);
  else h.writeUInt16LE(value.length, 6);
  return Buffer.concat([h, value]);
}

/** Encapsulated pixel data (PS3.5 §A.4): undefined length, an empty Basic Offset Table item, one fragment, the delimiter. */
function encapsulatedPixels(group: number, tag: number, value: Buffer): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt16LE(group, 0);
  h.writeUInt16LE(tag, 2);
  h.write('OB', 4, 'latin1');
  h.writeUInt32LE(0xffffffff, 8);
  const item = (v: Buffer) => {
    const b = Buffer.alloc(8);
    b.writeUInt16LE(0xfffe, 0);
    b.writeUInt16LE(0xe000, 2);
    b.writeUInt32LE(v.length, 4);
    return Buffer.concat([b, v]);
  };
  const end = Buffer.alloc(8);
  end.writeUInt16LE(0xfffe, 0);
  end.writeUInt16LE(0xe0dd, 2);
  return Buffer.concat([h, item(Buffer.alloc(0)), item(value), end]);
}

const us = (v: number) => {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(v);
  return b;
};
const ss = (v: number) => {
  const b = Buffer.alloc(2);
  b.writeInt16LE(v);
  return b;
};
const str = (s: string) => Buffer.from(s, 'latin1');
const ds = (values: number[]) => str(values.join('\\'));

/** A minimal DICOM file (default: Part 10, explicit-VR little endian, 16-bit signed pixels), elements in tag order. */
export function encodeDicom(opts: DicomFileOptions): Uint8Array {
  const ts = opts.part10 === false ? IMPLICIT_LE : (opts.transferSyntax ?? EXPLICIT_LE);
  const implicit = ts === IMPLICIT_LE;
  const el = (group: number, tag: number, vr: string, value: Buffer) => element(group, tag, vr, value, implicit);
  const bitsAllocated = opts.bitsAllocated ?? (opts.pixels instanceof Uint8Array ? 8 : 16);
  const bitsStored = opts.bitsStored ?? bitsAllocated;
  const pixelRepresentation = opts.pixelRepresentation === undefined ? 1 : opts.pixelRepresentation;
  const parts: Buffer[] = [];
  // Implicit-VR data sets usually start with group 0008 (SOP Class UID: CT Image Storage).
  parts.push(el(0x0008, 0x0016, 'UI', str('1.2.840.10008.5.1.4.1.1.2')));
  if (opts.modality !== undefined) parts.push(el(0x0008, 0x0060, 'CS', str(opts.modality)));
  parts.push(el(0x0010, 0x0020, 'LO', str(opts.patient)));
  if (opts.instance !== undefined) parts.push(el(0x0020, 0x0013, 'IS', str(String(opts.instance))));
  if (opts.position) parts.push(el(0x0020, 0x0032, 'DS', ds(opts.position)));
  if (opts.orientation) parts.push(el(0x0020, 0x0037, 'DS', ds(opts.orientation)));
  parts.push(el(0x0028, 0x0002, 'US', us(1)));
  if (opts.photometric !== undefined) parts.push(el(0x0028, 0x0004, 'CS', str(opts.photometric)));
  if (opts.frames !== undefined) parts.push(el(0x0028, 0x0008, 'IS', str(String(opts.frames))));
  parts.push(
    el(0x0028, 0x0010, 'US', us(opts.rows)),
    el(0x0028, 0x0011, 'US', us(opts.cols)),
    el(0x0028, 0x0100, 'US', us(bitsAllocated)),
    el(0x0028, 0x0101, 'US', us(bitsStored)),
    el(0x0028, 0x0102, 'US', us(opts.highBit ?? bitsStored - 1)),
  );
  if (pixelRepresentation !== null) parts.push(el(0x0028, 0x0103, 'US', us(pixelRepresentation)));
  if (opts.paddingValue !== undefined) parts.push(el(0x0028, 0x0120, pixelRepresentation === 1 ? 'SS' : 'US', pixelRepresentation === 1 ? ss(opts.paddingValue) : us(opts.paddingValue)));
  if (opts.intercept !== undefined) parts.push(el(0x0028, 0x1052, 'DS', str(String(opts.intercept))));
  if (opts.slope !== undefined) parts.push(el(0x0028, 0x1053, 'DS', str(String(opts.slope))));
  const pixelElement = opts.pixelElement ?? 0x0010;
  const pixelBytes = Buffer.from(opts.pixels.buffer, opts.pixels.byteOffset, opts.pixels.byteLength);
  parts.push(opts.encapsulated ? encapsulatedPixels(0x7fe0, pixelElement, pixelBytes) : el(0x7fe0, pixelElement, pixelElement === 0x0008 ? 'OF' : bitsAllocated === 8 ? 'OB' : 'OW', pixelBytes));
  let dataSet = Buffer.concat(parts);
  if (opts.part10 === false) return dataSet;
  // Deflated explicit VR little endian (PS3.5 §A.5): the data set after the meta group is raw deflate.
  if (ts === DEFLATED_LE) dataSet = deflateRawSync(dataSet);
  const meta = Buffer.concat([element(0x0002, 0x0001, 'OB', Buffer.from([0, 1])), element(0x0002, 0x0010, 'UI', str(ts))]);
  const metaLength = Buffer.alloc(4);
  metaLength.writeUInt32LE(meta.length);
  return Buffer.concat([Buffer.alloc(128), str('DICM'), element(0x0002, 0x0000, 'UL', metaLength), meta, dataSet]);
}
