// Report attachments arrive gzip-compressed (TLS-RPT, DMARC) or as a one-file zip (DMARC). Output is
// capped: a report is a few hundred KiB at most, a bomb is refused instead of filling memory.
import { gunzipSync, inflateRawSync } from 'node:zlib';

export const MAX_REPORT_BYTES = 20 * 1024 * 1024;

const isGzip = (b: Buffer) => b.length > 2 && b[0] === 0x1f && b[1] === 0x8b;
const isZip = (b: Buffer) => b.length > 4 && b.readUInt32LE(0) === 0x04034b50;

/** The bytes of a (possibly compressed) attachment: gunzipped, the first file of a zip, or as is. */
export function unpack(data: Buffer, maxBytes = MAX_REPORT_BYTES): Buffer {
  if (isGzip(data)) return gunzipSync(data, { maxOutputLength: maxBytes });
  if (isZip(data)) return unzipFirst(data, maxBytes).data;
  if (data.length > maxBytes) throw new Error('report too large');
  return data;
}

/**
 * The first file of a zip archive. Sizes come from the central directory (the local header may
 * defer them to a data descriptor); the data starts after the local header's name and extra field.
 */
export function unzipFirst(zip: Buffer, maxBytes = MAX_REPORT_BYTES): { name: string; data: Buffer } {
  // End of central directory: 22 bytes plus a comment of up to 64 KiB, at the very end.
  let eocd = -1;
  for (let i = zip.length - 22; i >= Math.max(0, zip.length - 22 - 0xffff); i--) {
    if (zip.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error('zip: no end of central directory');
  const cd = zip.readUInt32LE(eocd + 16);
  if (cd + 46 > zip.length || zip.readUInt32LE(cd) !== 0x02014b50) throw new Error('zip: bad central directory');
  const method = zip.readUInt16LE(cd + 10);
  const compressedSize = zip.readUInt32LE(cd + 20);
  const size = zip.readUInt32LE(cd + 24);
  const name = zip.subarray(cd + 46, cd + 46 + zip.readUInt16LE(cd + 28)).toString('utf8');
  const local = zip.readUInt32LE(cd + 42);
  if (local + 30 > zip.length || zip.readUInt32LE(local) !== 0x04034b50) throw new Error('zip: bad local header');
  const start = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
  const body = zip.subarray(start, start + compressedSize);
  if (body.length !== compressedSize) throw new Error('zip: truncated');
  if (size > maxBytes) throw new Error('report too large');
  if (method === 0) return { name, data: body };
  if (method === 8) return { name, data: inflateRawSync(body, { maxOutputLength: maxBytes }) };
  throw new Error(`zip: unsupported compression method ${method}`);
}
