import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/**
 * The file port for uploads: files under DATA_DIR/uploads, content-addressed by SHA-256
 * (`uploads/ab/abcdef….xlsx`), written through a temporary file in the same folder so a half-written
 * upload is never under its final name. Streams only; no file is held in memory whole.
 */
export interface StagedFile { tmpPath: string; sha256: string; bytes: number; truncated: boolean }

export const uploadsDir = (dataDir: string) => path.resolve(dataDir, 'uploads');

/** Streams source to a temporary file, hashing as it goes; stops counting at maxBytes + 1 and reports truncation. */
export async function stageUpload(dataDir: string, source: Readable, maxBytes: number): Promise<StagedFile> {
  const dir = path.join(uploadsDir(dataDir), 'tmp');
  await mkdir(dir, { recursive: true });
  const tmpPath = path.join(dir, `${randomUUID()}.part`);
  const hash = createHash('sha256');
  let bytes = 0;
  let truncated = false;
  const meter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      bytes += chunk.length;
      if (bytes > maxBytes) { truncated = true; source.unpipe(meter); source.resume(); return done(); }
      hash.update(chunk);
      done(null, chunk);
    },
  });
  try {
    await pipeline(source, meter, createWriteStream(tmpPath));
  } catch (err) {
    await rm(tmpPath, { force: true });
    throw err;
  }
  // a multipart stream cut at its size limit says so itself
  truncated ||= (source as Readable & { truncated?: boolean }).truncated === true;
  return { tmpPath, sha256: hash.digest('hex'), bytes, truncated };
}

/** Moves a staged file to its content address; a file already there (the same bytes) is kept and the staged copy dropped. */
export async function keepUpload(dataDir: string, staged: StagedFile, ext: 'csv' | 'xlsx'): Promise<string> {
  const rel = path.join('uploads', staged.sha256.slice(0, 2), `${staged.sha256}.${ext}`);
  const abs = path.resolve(dataDir, rel);
  await mkdir(path.dirname(abs), { recursive: true });
  const exists = await stat(abs).then(() => true, () => false);
  if (exists) await rm(staged.tmpPath, { force: true });
  else await rename(staged.tmpPath, abs);
  return rel;
}

export async function discardUpload(staged: StagedFile): Promise<void> {
  await rm(staged.tmpPath, { force: true });
}

/** SHA-256 of a file on disk, streamed. */
export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(file), hash);
  return hash.digest('hex');
}
