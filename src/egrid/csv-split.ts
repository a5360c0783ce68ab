import { open } from 'node:fs/promises';

/** A byte range of a CSV file that starts at a record boundary, and the 1-based physical line it starts on. */
export interface CsvPart { start: number; end: number; firstLine: number }

const QUOTE = 0x22;
const NEWLINE = 0x0a;
const RETURN = 0x0d;
const READ_BYTES = 1 << 20;

/**
 * Cuts a CSV file into about `parts` byte ranges of similar size, each cut just after a line feed that ends a
 * record: one with an even number of `"` before it (RFC 4180 doubles a quote inside a quoted field, so the
 * parity of the quotes before a byte tells whether it is inside quotes). A line feed inside a quoted field is
 * never a cut. Each part tells the line it starts on, counted as csv-parse counts lines (a line break outside quotes
 * is one, and inside a quoted field each CR and each LF is one), so its readers number lines as one reader of the
 * whole file does. A file with no such line feed past a cut point (an unclosed quote) gives fewer parts; the last part ends
 * at the file's end. Reads the file once, up to the last cut, in 1 MB blocks.
 */
export async function csvParts(path: string, parts: number): Promise<CsvPart[]> {
  const file = await open(path, 'r');
  try {
    const size = (await file.stat()).size;
    const out: CsvPart[] = [{ start: 0, end: size, firstLine: 1 }];
    if (parts <= 1 || size === 0) return out;
    const buf = Buffer.allocUnsafe(READ_BYTES);
    let quotes = 0;
    let lines = 1;
    let pos = 0;
    let nextCut = Math.floor(size / parts);
    while (pos < size && out.length < parts) {
      const { bytesRead } = await file.read(buf, 0, READ_BYTES, pos);
      if (bytesRead === 0) break;
      for (let i = 0; i < bytesRead; i++) {
        const b = buf[i];
        if (b === QUOTE) quotes++;
        else if ((quotes & 1) === 1) { if (b === NEWLINE || b === RETURN) lines++; }
        else if (b === NEWLINE) {
          lines++;
          if (pos + i + 1 >= nextCut && pos + i + 1 < size) {
            const at = pos + i + 1;
            out[out.length - 1]!.end = at;
            out.push({ start: at, end: size, firstLine: lines });
            nextCut = Math.floor((size * out.length) / parts);
            if (out.length >= parts) break;
          }
        }
      }
      pos += bytesRead;
    }
    return out;
  } finally {
    await file.close();
  }
}
