/** What encodeDicom writes; an element left undefined is left out of the file. */
export interface DicomFileOptions {
  rows: number;
  cols: number;
  /** rows × cols stored values, row-major. */
  pixels: Int16Array;
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
}

/** One explicit-VR little-endian element, its value padded to even length as DICOM asks. */
function element(group: number, tag: number, vr: string, value: Buffer): Buffer {
  if (value.length % 2) value = Buffer.concat([value, Buffer.from([vr === 'UI' ? 0 : 0x20])]);
  const long = ['OB', 'OW', 'SQ', 'UN', 'UT'].includes(vr);
  const h = Buffer.alloc(long ? 12 : 8);
  h.writeUInt16LE(group, 0);
  h.writeUInt16LE(tag, 2);
  h.write(vr, 4, 'latin1');
  if (long) h.writeUInt32LE(value.length, 8);
  else h.writeUInt16LE(value.length, 6);
  return Buffer.concat([h, value]);
}

const us = (v: number) => {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(v);
  return b;
};
const str = (s: string) => Buffer.from(s, 'latin1');
const ds = (values: number[]) => str(values.join('\\'));

/** A minimal explicit-VR little-endian DICOM file: 16-bit signed pixels, elements in tag order. */
export function encodeDicom(opts: DicomFileOptions): Uint8Array {
  const meta = Buffer.concat([element(0x0002, 0x0001, 'OB', Buffer.from([0, 1])), element(0x0002, 0x0010, 'UI', str('1.2.840.10008.1.2.1'))]);
  const metaLength = Buffer.alloc(4);
  metaLength.writeUInt32LE(meta.length);
  const parts = [Buffer.alloc(128), str('DICM'), element(0x0002, 0x0000, 'UL', metaLength), meta, element(0x0010, 0x0020, 'LO', str(opts.patient))];
  if (opts.instance !== undefined) parts.push(element(0x0020, 0x0013, 'IS', str(String(opts.instance))));
  if (opts.position) parts.push(element(0x0020, 0x0032, 'DS', ds(opts.position)));
  if (opts.orientation) parts.push(element(0x0020, 0x0037, 'DS', ds(opts.orientation)));
  parts.push(element(0x0028, 0x0002, 'US', us(1)));
  if (opts.frames !== undefined) parts.push(element(0x0028, 0x0008, 'IS', str(String(opts.frames))));
  parts.push(
    element(0x0028, 0x0010, 'US', us(opts.rows)),
    element(0x0028, 0x0011, 'US', us(opts.cols)),
    element(0x0028, 0x0100, 'US', us(16)),
    element(0x0028, 0x0101, 'US', us(16)),
    element(0x0028, 0x0103, 'US', us(1)),
  );
  if (opts.intercept !== undefined) parts.push(element(0x0028, 0x1052, 'DS', str(String(opts.intercept))));
  if (opts.slope !== undefined) parts.push(element(0x0028, 0x1053, 'DS', str(String(opts.slope))));
  parts.push(element(0x7fe0, 0x0010, 'OW', Buffer.from(opts.pixels.buffer, opts.pixels.byteOffset, opts.pixels.byteLength)));
  return Buffer.concat(parts);
}
