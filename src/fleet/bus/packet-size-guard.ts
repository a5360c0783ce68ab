import type { Socket } from 'node:net';

/**
 * Reads MQTT fixed headers (control byte, then the Remaining Length: 1–4 bytes of 7 bits each, MQTT 3.1.1 §2.2.3
 * and 5.0 §1.5.5) from a byte stream fed in chunks of any size, and tells when a packet declares more than `max`
 * bytes after its fixed header (or a malformed length), before any of its body has arrived.
 */
export class PacketSizeScanner {
  private phase: 'type' | 'length' | 'body' = 'type';
  private length = 0;
  private multiplier = 1;
  private lengthBytes = 0;
  private left = 0;

  private readonly max: number;

  constructor(max: number) { this.max = max; }

  /** Feeds bytes; returns the declared Remaining Length of the first packet over the limit (or -1 for a malformed one), else null. */
  feed(chunk: Uint8Array): number | null {
    let i = 0;
    while (i < chunk.length) {
      if (this.phase === 'body') {
        const take = Math.min(this.left, chunk.length - i);
        this.left -= take;
        i += take;
        if (this.left === 0) this.phase = 'type';
        continue;
      }
      if (this.phase === 'type') {
        i++;
        this.phase = 'length';
        this.length = 0;
        this.multiplier = 1;
        this.lengthBytes = 0;
        continue;
      }
      const byte = chunk[i++]!;
      this.length += (byte & 0x7f) * this.multiplier;
      this.multiplier *= 128;
      this.lengthBytes++;
      if (this.length > this.max) return this.length;
      if (byte & 0x80) {
        if (this.lengthBytes === 4) return -1;
        continue;
      }
      this.left = this.length;
      this.phase = this.left > 0 ? 'body' : 'type';
    }
    return null;
  }
}

/**
 * Guards a broker connection: every chunk the broker reads from `socket` (Aedes reads in paused mode with
 * `socket.read()`) passes a PacketSizeScanner first; a packet declaring more than `maxBytes` destroys the socket
 * at once (the broker sees a closed connection, never the packet) and calls `onRefused` with the declared size.
 */
export function guardPacketSize(socket: Socket, maxBytes: number, onRefused: (declaredBytes: number) => void): Socket {
  const scanner = new PacketSizeScanner(maxBytes);
  const read = socket.read.bind(socket);
  socket.read = (size?: number) => {
    const chunk = read(size) as Buffer | string | null;
    if (chunk === null || socket.destroyed) return chunk;
    const over = scanner.feed(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
    if (over === null) return chunk;
    socket.destroy();
    onRefused(over);
    return null;
  };
  return socket;
}
