import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { openDb } from './db.ts';
import { StoreLockedError } from './store-lock.ts';

const root = path.resolve(import.meta.dirname, '../..');
const node = process.execPath;

/** A second process that opens the embedded store in `dataDir` and keeps it until killed. */
async function holder(dataDir: string): Promise<ChildProcess> {
  const script = `import { openDb } from ${JSON.stringify(path.join(root, 'src/platform/db.ts'))};\n` +
    `const db = await openDb({ dataDir: ${JSON.stringify(dataDir)} }); await db.query('select 1'); process.stdout.write('ready\\n'); setInterval(() => {}, 1000);`;
  const child = spawn(node, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [chunk] = await once(child.stdout!, 'data') as [Buffer];
  assert.equal(chunk.toString().trim(), 'ready');
  return child;
}

function cli(args: string[], dataDir: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, DATA_DIR: dataDir, LOG_LEVEL: 'silent' };
  delete env.DATABASE_URL; // the embedded store is what is being tested
  const child = spawn(node, [path.join(root, 'src/cli/main.ts'), ...args], { env, cwd: dataDir });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

describe('embedded store lock', () => {
  let dir: string;
  before(() => { dir = mkdtempSync(path.join(tmpdir(), 'gp-lock-')); });
  after(() => { rmSync(dir, { recursive: true, force: true }); });

  it('refuses a second opener in the same process, naming the holder, and frees the store on close', async () => {
    const first = await openDb({ dataDir: dir });
    await assert.rejects(openDb({ dataDir: dir }), (err: unknown) => {
      assert.ok(err instanceof StoreLockedError);
      assert.equal(err.holder.pid, process.pid);
      assert.match(err.message, new RegExp(`in use by pid ${process.pid} .*Stop that process first.*DATABASE_URL`));
      return true;
    });
    await first.close();
    const again = await openDb({ dataDir: dir });
    assert.deepEqual(await again.query('select 1 as one'), [{ one: 1 }]);
    await again.close();
  });

  it('refuses the CLI beside a live holder with one line, and takes over at once after the holder is killed -9', async () => {
    const child = await holder(dir);
    try {
      const refused = await cli(['keys', 'list'], dir);
      assert.equal(refused.code, 1);
      const lines = refused.stderr.trim().split('\n');
      assert.equal(lines.length, 1, refused.stderr);
      assert.match(lines[0]!, new RegExp(`^gridpulse: the embedded store .* is in use by pid ${child.pid} `));
    } finally {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
    const started = Date.now();
    const db = await openDb({ dataDir: dir });
    assert.ok(Date.now() - started < 10_000, 'a dead holder\'s lock is taken over without waiting for a time-out');
    await db.close();
    const listed = await cli(['keys', 'list'], dir);
    assert.equal(listed.code, 0, listed.stderr);
  });

  it('takes over a torn lock file (a crash while it was being written)', async () => {
    writeFileSync(`${path.resolve(dir, 'pglite')}.lock`, '{"pid":');
    const db = await openDb({ dataDir: dir });
    await db.close();
  });
});
