import yauzl from 'yauzl';
import { HttpProblem } from '../platform/problem.ts';

/** Bounds for reading an XLSX archive (OWASP ASVS 5.0 V5.2.3: compressed files checked against maximum size and entry count). */
export interface ZipLimits {
  /** Sum of every entry's inflated bytes. */
  maxUncompressedBytes: number;
  /** Inflated / compressed bytes of an entry, checked once it has inflated past 1 MiB. */
  maxRatio: number;
  maxEntries: number;
}

export const defaultZipLimits: ZipLimits = { maxUncompressedBytes: 1024 ** 3, maxRatio: 200, maxEntries: 10_000 };

export interface ZipReport { entries: number; uncompressedBytes: number; formulaCells: number; formulaSheets: string[] }

const SYMLINK = 0o120000;
const FORMULA = /<(?:[A-Za-z]\w*:)?f[\s>/]/g;

function unsafePath(name: string): boolean {
  return name.startsWith('/') || name.startsWith('\\') || /^[A-Za-z]:/.test(name) || name.split(/[\\/]/).includes('..') || name.includes('\0');
}

/**
 * Reads every entry of an XLSX (zip) archive once, inflating it into nothing but counters, and
 * throws an HttpProblem on the first thing that makes it unsafe to hand to a spreadsheet reader:
 * an absolute or `..` path or a symbolic link inside (422), more entries or more inflated bytes
 * than the limits or an entry that inflates beyond the ratio — a zip bomb (413) — or an archive
 * that is not a workbook (422). The inflated size is counted as it streams, so a lying header
 * does not help. It also counts formula cells (`<f>` elements) in the worksheets: eGRID workbooks
 * hold values, and the caller decides what a formula means (never evaluated here or anywhere).
 */
export async function inspectXlsxArchive(path: string, limits: ZipLimits = defaultZipLimits): Promise<ZipReport> {
  let zip: yauzl.ZipFile;
  try {
    zip = await new Promise<yauzl.ZipFile>((resolve, reject) =>
      yauzl.open(path, { lazyEntries: true, validateEntrySizes: true, strictFileNames: false, decodeStrings: true, autoClose: true },
        (err, z) => (err ? reject(err) : resolve(z))));
  } catch (err) {
    throw new HttpProblem(422, `file: not a readable XLSX (zip) archive: ${(err as Error).message}`, 'file');
  }
  const report: ZipReport = { entries: 0, uncompressedBytes: 0, formulaCells: 0, formulaSheets: [] };
  const names = new Set<string>();
  try {
    await new Promise<void>((resolve, reject) => {
      const fail = (problem: HttpProblem) => { zip.close(); reject(problem); };
      // yauzl itself refuses `..` and absolute entry names before they reach the entry handler
      zip.on('error', (err: Error) => fail(new HttpProblem(422, /relative path|absolute path|invalid characters/i.test(err.message)
        ? `file: the XLSX archive holds an unsafe path (${err.message})` : `file: XLSX archive rejected: ${err.message}`, 'file')));
      zip.on('end', () => resolve());
      zip.on('entry', (entry: yauzl.Entry) => {
        report.entries++;
        if (report.entries > limits.maxEntries) return fail(new HttpProblem(413, `file: the XLSX archive has more than ${limits.maxEntries} entries`, 'file'));
        if (unsafePath(entry.fileName)) return fail(new HttpProblem(422, `file: the XLSX archive holds an unsafe path ${JSON.stringify(entry.fileName)}`, 'file'));
        if (((entry.externalFileAttributes >>> 16) & 0o170000) === SYMLINK) {
          return fail(new HttpProblem(422, `file: the XLSX archive holds a symbolic link ${JSON.stringify(entry.fileName)}`, 'file'));
        }
        names.add(entry.fileName);
        if (report.uncompressedBytes + entry.uncompressedSize > limits.maxUncompressedBytes) {
          return fail(new HttpProblem(413, `file: the XLSX archive would inflate to more than ${limits.maxUncompressedBytes} bytes (zip bomb)`, 'file'));
        }
        if (entry.fileName.endsWith('/')) return zip.readEntry();
        zip.openReadStream(entry, (err, stream) => {
          if (err) return fail(new HttpProblem(422, `file: XLSX entry ${entry.fileName} unreadable: ${err.message}`, 'file'));
          const isSheet = /^xl\/worksheets\/[^/]+\.xml$/.test(entry.fileName);
          let inflated = 0;
          let tail = '';
          let formulas = 0;
          stream.on('data', (chunk: Buffer) => {
            inflated += chunk.length;
            report.uncompressedBytes += chunk.length;
            if (report.uncompressedBytes > limits.maxUncompressedBytes) {
              stream.destroy();
              return fail(new HttpProblem(413, `file: the XLSX archive inflates to more than ${limits.maxUncompressedBytes} bytes (zip bomb)`, 'file'));
            }
            if (inflated > 1024 ** 2 && inflated / Math.max(1, entry.compressedSize) > limits.maxRatio) {
              stream.destroy();
              return fail(new HttpProblem(413, `file: XLSX entry ${entry.fileName} inflates more than ${limits.maxRatio}:1 (zip bomb)`, 'file'));
            }
            if (isSheet) {
              const text = tail + chunk.toString('latin1');
              formulas += text.match(FORMULA)?.length ?? 0;
              // keep a few bytes so a tag split across chunks is seen once, in the next chunk
              const keep = text.slice(-8);
              formulas -= keep.match(FORMULA)?.length ?? 0;
              tail = keep;
            }
          });
          stream.on('error', (e: Error) => fail(new HttpProblem(422, `file: XLSX entry ${entry.fileName}: ${e.message}`, 'file')));
          stream.on('end', () => {
            if (isSheet) {
              formulas += tail.match(FORMULA)?.length ?? 0;
              if (formulas) { report.formulaCells += formulas; report.formulaSheets.push(entry.fileName); }
            }
            zip.readEntry();
          });
        });
      });
      zip.readEntry();
    });
  } finally {
    zip.close();
  }
  if (!names.has('[Content_Types].xml') || !names.has('xl/workbook.xml')) {
    throw new HttpProblem(422, 'file: a zip archive but not an XLSX workbook (no xl/workbook.xml)', 'file');
  }
  return report;
}
