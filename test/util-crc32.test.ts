/** CRC-32 (src/util/crc32.ts): zlib's where Node has it, the table otherwise; PNG chunks, layout files and checkpoints rely on both agreeing. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { crc32, crc32Table } from '../src/util/crc32.js';

test('the check value of CRC-32/ISO-HDLC: "123456789" → 0xCBF43926, both ways', () => {
  const data = new TextEncoder().encode('123456789');
  assert.is(crc32(data), 0xcbf43926);
  assert.is(crc32Table(data), 0xcbf43926);
  assert.is(crc32(new Uint8Array(0)), 0);
});

test('zlib and the table agree on any bytes, offsets into a buffer and a continued checksum', () => {
  let seed = 7;
  const next = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
  for (const length of [1, 3, 64, 1000, 65537]) {
    const bytes = Uint8Array.from({ length: length + 5 }, next);
    const view = bytes.subarray(3, 3 + length);
    assert.is(crc32(view), crc32Table(view), `length ${length}`);
    const half = length >> 1;
    assert.is(crc32(view.subarray(half), crc32(view.subarray(0, half))), crc32Table(view), `continued, length ${length}`);
  }
});

test.run();
