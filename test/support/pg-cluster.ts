import { execFile, spawnSync } from 'node:child_process';
import { appendFileSync, chmodSync, chownSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './free-port.ts';
export { freePort };

const run = promisify(execFile);
const BIN = process.env.PG_BIN ?? '/usr/lib/postgresql/15/bin';

/** Whether the PostgreSQL server binaries (initdb, pg_ctl, pg_basebackup) are installed. */
export const pgBinariesPresent = (): boolean => existsSync(path.join(BIN, 'initdb'));

/** PostgreSQL refuses to run as root: as root, run its tools as the `postgres` system user. */
function asPostgres(cmd: string, args: string[]): [string, string[]] {
  return process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];
}

async function pg(tool: string, args: string[], timeoutMs = 60_000): Promise<string> {
  const [cmd, a] = asPostgres(path.join(BIN, tool), args);
  const { stdout } = await run(cmd, a, { timeout: timeoutMs });
  return stdout;
}

/**
 * A private PostgreSQL cluster in a temporary folder on its own port (never the system server's configuration):
 * trust authentication on 127.0.0.1, WAL level replica, optional WAL archiving to `archiveDir`.
 */
export class PgCluster {
  readonly dir: string;
  readonly port: number;
  private constructor(dir: string, port: number) { this.dir = dir; this.port = port; }

  get url(): string { return `postgres://postgres@127.0.0.1:${this.port}/postgres`; }

  /** initdb + start. `archiveDir`: copy every finished WAL segment there (point-in-time recovery). */
  static async primary(opts: { archiveDir?: string } = {}): Promise<PgCluster> {
    const dir = PgCluster.tempDir('gp-pg-primary-');
    const port = await freePort();
    await pg('initdb', ['-D', dir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-instructions']);
    const archive = opts.archiveDir
      ? `archive_mode = on\narchive_command = 'test ! -f ${opts.archiveDir}/%f && cp %p ${opts.archiveDir}/%f'\n`
      : '';
    appendFileSync(path.join(dir, 'postgresql.conf'), `port = ${port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '${dir}'\nwal_level = replica\nmax_wal_senders = 5\nfsync = off\nshared_buffers = 16MB\n${archive}`);
    appendFileSync(path.join(dir, 'pg_hba.conf'), 'host replication all 127.0.0.1/32 trust\n');
    const c = new PgCluster(dir, port);
    await c.start();
    return c;
  }

  /** A streaming replica of `primary` (pg_basebackup -R) on another port, started. */
  static async replicaOf(primary: PgCluster): Promise<PgCluster> {
    const dir = PgCluster.tempDir('gp-pg-replica-');
    rmSync(dir, { recursive: true });
    const port = await freePort();
    await pg('pg_basebackup', ['-h', '127.0.0.1', '-p', String(primary.port), '-U', 'postgres', '-D', dir, '-X', 'stream', '-R', '--checkpoint=fast']);
    appendFileSync(path.join(dir, 'postgresql.conf'), `port = ${port}\nunix_socket_directories = '${dir}'\nhot_standby = on\narchive_mode = off\n`);
    const c = new PgCluster(dir, port);
    await c.start();
    return c;
  }

  /** A cluster from a base backup folder restored up to `targetTime` (an ISO instant) from the WAL archive (point-in-time recovery). */
  static async restoredTo(baseBackup: string, archiveDir: string, targetTime: string): Promise<PgCluster> {
    const dir = PgCluster.tempDir('gp-pg-pitr-');
    rmSync(dir, { recursive: true });
    spawnSync('cp', ['-a', baseBackup, dir]);
    const port = await freePort();
    appendFileSync(path.join(dir, 'postgresql.conf'), `port = ${port}\nunix_socket_directories = '${dir}'\narchive_mode = off\nrestore_command = 'cp ${archiveDir}/%f %p'\nrecovery_target_time = '${targetTime.replace('T', ' ').replace('Z', '+00')}'\nrecovery_target_action = 'promote'\n`);
    writeFileSync(path.join(dir, 'recovery.signal'), '');
    PgCluster.own(dir);
    const c = new PgCluster(dir, port);
    await c.start();
    return c;
  }

  /** A base backup of this cluster into a new folder (tar-free plain format, WAL streamed), returned. */
  async baseBackup(): Promise<string> {
    const dir = PgCluster.tempDir('gp-pg-base-');
    rmSync(dir, { recursive: true });
    await pg('pg_basebackup', ['-h', '127.0.0.1', '-p', String(this.port), '-U', 'postgres', '-D', dir, '-X', 'stream', '--checkpoint=fast']);
    return dir;
  }

  async start(): Promise<void> {
    const log = path.join(this.dir, 'server.log');
    try {
      await pg('pg_ctl', ['-D', this.dir, '-l', log, '-w', '-t', '60', 'start'], 90_000);
    } catch (err) {
      const tail = existsSync(log) ? readFileSync(log, 'utf8').split('\n').slice(-15).join('\n') : '(no log)';
      throw new Error(`PostgreSQL in ${this.dir} did not start: ${(err as Error).message}\n${tail}`, { cause: err });
    }
  }

  /** Stops fast (clients disconnected, checkpoint) or immediately (a crash: recovery on the next start). */
  async stop(mode: 'fast' | 'immediate' = 'fast'): Promise<void> {
    await pg('pg_ctl', ['-D', this.dir, '-m', mode, '-w', 'stop']).catch(() => {});
  }

  async destroy(): Promise<void> {
    await this.stop('immediate');
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** A temporary folder the postgres user owns (mode 0700, as PostgreSQL requires). */
  static tempDir(prefix: string): string {
    const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
    PgCluster.own(dir);
    return dir;
  }

  private static own(dir: string): void {
    chmodSync(dir, 0o700);
    if (process.getuid?.() === 0) spawnSync('chown', ['-R', 'postgres:postgres', dir]);
    else chownSync(dir, process.getuid!(), process.getgid!());
  }
}
