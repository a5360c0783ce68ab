import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { Aedes } from 'aedes';

/** An in-process Aedes broker without auth on a loopback port (0 = a free one), which a test can kill and restart. */
export interface TestAedes { url: string; port: number; broker: Aedes; kill(): Promise<void> }

export async function startTestAedes(port = 0): Promise<TestAedes> {
  const broker = await Aedes.createBroker();
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    broker.handle(socket);
  });
  await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(port, '127.0.0.1', resolve); });
  const bound = (server.address() as AddressInfo).port;
  return {
    url: `mqtt://127.0.0.1:${bound}`, port: bound, broker,
    // a crash, not a shutdown: connections are cut without DISCONNECT and the in-memory sessions and retained messages die
    async kill() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await new Promise<void>((resolve) => broker.close(() => resolve()));
    },
  };
}
