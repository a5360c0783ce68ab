import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface WebhookReceiver {
  /** every request received, in order: its headers and raw body */
  got: Array<{ headers: http.IncomingHttpHeaders; body: string }>;
  url: string;
  /** the status code of the next answers (200 until told otherwise) */
  answer(status: number): void;
  close(): Promise<void>;
}

/** A local webhook target on 127.0.0.1 (a test's outbox needs `allowPrivate` to reach it): records each request. */
export async function webhookReceiver(path = '/hook'): Promise<WebhookReceiver> {
  const got: WebhookReceiver['got'] = [];
  let status = 200;
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => { body += c; });
    req.on('end', () => { got.push({ headers: req.headers, body }); res.writeHead(status).end(); });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    got, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`,
    answer: (s) => { status = s; },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
