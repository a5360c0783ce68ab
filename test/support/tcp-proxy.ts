import net from 'node:net';
import type { AddressInfo } from 'node:net';

/**
 * How the proxy treats traffic: `pass` forwards; `reset` closes every new connection at once (a refused service);
 * `blackhole` accepts connections and never forwards a byte (clients time out).
 */
export type ProxyMode = 'pass' | 'reset' | 'blackhole';

/**
 * A fault-injecting TCP proxy for tests, put between a client and PostgreSQL, Redis, the broker or the EIA
 * stand-in: added latency per chunk in each direction, connections reset or black-holed, live connections cut.
 */
export class TcpProxy {
  mode: ProxyMode = 'pass';
  /** delay added to every chunk, each direction (milliseconds) */
  latencyMs = 0;
  /** connections accepted so far */
  accepted = 0;
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private readonly target: { host: string; port: number };

  constructor(target: { host: string; port: number }) {
    this.target = target;
    this.server = net.createServer((client) => this.accept(client));
  }

  /** Listens on 127.0.0.1 (port 0: any free port); resolves to the port. */
  async start(port = 0): Promise<number> {
    await new Promise<void>((resolve, reject) => { this.server.once('error', reject); this.server.listen(port, '127.0.0.1', resolve); });
    return this.port;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /**
   * Closes every open connection, both sides, at once (a crashed peer, a failover). Not with a TCP RST:
   * `socket.resetAndDestroy()` leaves a handle open in Node 24 that keeps the test process alive.
   */
  cut(): void {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }

  async stop(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: net.Socket): void {
    this.accepted++;
    client.on('error', () => {});
    if (this.mode === 'reset') { client.destroy(); return; }
    this.sockets.add(client);
    client.on('close', () => this.sockets.delete(client));
    if (this.mode === 'blackhole') { client.resume(); return; }
    const upstream = net.connect(this.target);
    upstream.setNoDelay(true);
    this.sockets.add(upstream);
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
    upstream.on('close', () => { this.sockets.delete(upstream); client.destroy(); });
    client.on('close', () => upstream.destroy());
    this.pipe(client, upstream);
    this.pipe(upstream, client);
  }

  /** Forwards from → to, each chunk after latencyMs (in order), holding the source while the sink is full. */
  private pipe(from: net.Socket, to: net.Socket): void {
    let queue = Promise.resolve();
    from.on('data', (chunk: Buffer) => {
      if (this.mode === 'blackhole') return;
      const delay = this.latencyMs;
      queue = queue.then(async () => {
        if (delay > 0) await new Promise((r) => setTimeout(r, delay));
        if (!to.destroyed && !to.write(chunk)) { from.pause(); to.once('drain', () => from.resume()); }
      });
    });
  }
}
