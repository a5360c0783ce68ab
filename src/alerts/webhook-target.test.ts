import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { alwaysRefusedReason, checkWebhookUrl, embeddedIpv4, guardedLookup, refusedAddressReason, refusedPortReason, REFUSED_SERVICE_PORTS, type Resolve } from './webhook-target.ts';
import { postWebhook } from './webhook-outbox.ts';
import { HttpProblem } from '../platform/problem.ts';

const strict = { allowPrivate: false };
const fakeDns = (table: Record<string, string[]>): Resolve => async (host) => {
  const addresses = table[host];
  if (!addresses) throw Object.assign(new Error(`ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
  return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
};

async function refused(url: string, policy: Parameters<typeof checkWebhookUrl>[1] = strict): Promise<string> {
  const err = await checkWebhookUrl(url, policy).then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof HttpProblem, `${url} should be refused`);
  assert.equal(err.status, 400);
  assert.equal(err.field, 'webhookUrl');
  return err.message;
}

describe('webhook targets (SSRF)', () => {
  it('refuses loopback, private, link-local, CGNAT, multicast and reserved targets in every spelling', async () => {
    for (const url of [
      'http://127.0.0.1/', 'http://127.1/', 'http://0x7f.1/', 'http://2130706433/', 'http://017700000001/', 'http://0.0.0.0/',
      'http://[::1]/', 'http://[::]/', 'http://[::ffff:127.0.0.1]/', 'http://[::ffff:7f00:1]/', 'http://[64:ff9b::127.0.0.1]/', 'http://[2002:7f00:1::]/',
      'http://169.254.169.254/latest/meta-data/', 'http://[::ffff:169.254.169.254]/', 'http://10.0.0.5:8080/', 'http://172.16.3.4/', 'http://192.168.1.1/',
      'http://100.64.0.1/', 'http://224.0.0.1/', 'http://255.255.255.255/', 'http://[fd00::1]/', 'http://[fe80::1]/', 'http://[ff02::1]/',
      'https://localhost/', 'http://foo.localhost:3000/',
    ]) await refused(url);
  });

  it('refuses link-local and cloud metadata targets even when an administrator allows private ones (WEBHOOK_ALLOW_PRIVATE=1)', async () => {
    const lenient = { allowPrivate: true };
    for (const url of [
      'http://169.254.169.254/latest/meta-data/', 'http://169.254.0.1/', 'http://0xa9fea9fe/', 'http://[::ffff:169.254.169.254]/', 'http://[fe80::1]/',
      'http://[febf::ffff]/', 'http://[fd00:ec2::254]/', 'http://100.100.100.200/', 'http://192.0.0.192/', 'http://metadata.google.internal/computeMetadata/v1/',
      'http://METADATA.google.internal./', 'http://metadata/', 'http://instance-data.ec2.internal/',
    ]) assert.match(await refused(url, lenient), /never allowed/, url);
    // property: every address of 169.254.0.0/16 and fe80::/10 is refused under the lenient policy
    await fc.assert(fc.asyncProperty(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), async (c, d) => {
      assert.match(await refused(`http://169.254.${c}.${d}/`, lenient), /never allowed/);
    }), { numRuns: 50 });
    fc.assert(fc.property(fc.integer({ min: 0xfe80, max: 0xfebf }), fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 7, maxLength: 7 }), (w0, rest) => {
      assert.ok(alwaysRefusedReason([w0, ...rest].map((w) => w.toString(16)).join(':')));
    }));
    // private and loopback still pass under the allowance; public always
    for (const url of ['http://127.0.0.1:8080/', 'http://10.1.2.3/', 'http://[fd00::1]/', 'https://example.com/']) assert.ok(await checkWebhookUrl(url, lenient), url);
    // at connection time too: a name that resolves to the metadata address is refused with the allowance on
    const lookup = guardedLookup({ allowPrivate: true, resolve: fakeDns({ 'rebind.example': ['169.254.169.254'], 'lan.example': ['10.0.0.9'] }) });
    const look = (h: string) => new Promise<string>((res, rej) => lookup(h, {}, (e, a) => (e ? rej(e) : res(a as string))));
    await assert.rejects(look('rebind.example'), /link-local or cloud metadata/);
    assert.equal(await look('lan.example'), '10.0.0.9');
  });

  it('refuses other schemes, credentials, and names that resolve to a refused address (any of them)', async () => {
    assert.match(await refused('file:///etc/passwd'), /only http and https/);
    assert.match(await refused('gopher://example.com/'), /only http and https/);
    assert.match(await refused('https://user:pw@example.com/'), /credentials/);
    assert.match(await refused('not a url'), /not a URL/);
    const resolve = fakeDns({ 'evil.example': ['127.0.0.1'], 'mixed.example': ['93.184.216.34', '10.1.2.3'], 'v6.example': ['::ffff:10.0.0.1'] });
    assert.match(await refused('https://evil.example/hook', { allowPrivate: false, resolve }), /resolves to 127\.0\.0\.1, which is loopback/);
    assert.match(await refused('https://mixed.example/hook', { allowPrivate: false, resolve }), /10\.1\.2\.3/);
    assert.match(await refused('https://v6.example/hook', { allowPrivate: false, resolve }), /private/);
    assert.match(await refused('https://nowhere.example/hook', { allowPrivate: false, resolve }), /does not resolve/);
  });

  it('accepts public targets, and private ones only with the administrator\'s allowance', async () => {
    const resolve = fakeDns({ 'hooks.example.com': ['93.184.216.34', '2606:2800:220:1:248:1893:25c8:1946'] });
    assert.equal((await checkWebhookUrl('https://hooks.example.com/x?y=1', { allowPrivate: false, resolve })).href, 'https://hooks.example.com/x?y=1');
    assert.equal((await checkWebhookUrl('http://8.8.8.8/', strict)).hostname, '8.8.8.8');
    assert.equal((await checkWebhookUrl('http://127.0.0.1:9999/', { allowPrivate: true })).hostname, '127.0.0.1');
  });

  it('refuses system and well-known service ports on any address, whatever the address policy (no port scanning through the delivery log)', async () => {
    for (const url of ['http://93.184.216.34:22/', 'http://93.184.216.34:25/', 'https://93.184.216.34:8/', 'http://93.184.216.34:1023/', 'http://93.184.216.34:6379/', 'http://93.184.216.34:5432/', 'https://93.184.216.34:27017/']) {
      assert.match(await refused(url), /port \d+ is/, url);
      assert.match(await refused(url, { allowPrivate: true }), /port \d+ is/, `${url} (private allowed)`);
    }
    assert.match(await refused('http://127.0.0.1:22/', { allowPrivate: true }), /port 22 is a system service port/);
    for (const url of ['http://93.184.216.34/', 'https://93.184.216.34/', 'http://93.184.216.34:443/', 'https://93.184.216.34:80/', 'http://93.184.216.34:8080/', 'https://93.184.216.34:8443/', 'http://93.184.216.34:65535/']) {
      assert.equal((await checkWebhookUrl(url, strict)).hostname, '93.184.216.34', url);
    }
  });

  it('allows exactly 80, 443 and 1024–65535 outside the service list (property)', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 65535 }), (port) => {
      const allowed = port === 80 || port === 443 || (port >= 1024 && !REFUSED_SERVICE_PORTS.has(port));
      assert.equal(refusedPortReason(port) === undefined, allowed, String(port));
    }));
  });

  it('judges every address of a refused IPv4 block the same in IPv4, mapped IPv6 and NAT64 form (property)', () => {
    const blocks: Array<[number, number]> = [[10 << 24, 8], [127 << 24, 8], [(169 << 24) | (254 << 16), 16], [(172 << 24) | (16 << 16), 12], [(192 << 24) | (168 << 16), 16], [(100 << 24) | (64 << 16), 10], [224 << 24, 4]];
    const dotted = (n: number) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
    fc.assert(fc.property(fc.constantFrom(...blocks), fc.nat(), ([base, prefix], r) => {
      const addr = dotted(((base >>> 0) | (r & (2 ** (32 - prefix) - 1))) >>> 0);
      const hex = (n: number) => n.toString(16);
      const [a, b, c, d] = addr.split('.').map(Number) as [number, number, number, number];
      for (const form of [addr, `::ffff:${addr}`, `::ffff:${hex((a << 8) | b)}:${hex((c << 8) | d)}`, `64:ff9b::${addr}`]) {
        assert.ok(refusedAddressReason(form), `${form} should be refused`);
      }
      assert.equal(embeddedIpv4(`::ffff:${addr}`), addr);
    }));
    fc.assert(fc.property(fc.ipV4(), (addr) => {
      // the mapped form never judges differently from the address itself
      assert.equal(Boolean(refusedAddressReason(`::ffff:${addr}`)), Boolean(refusedAddressReason(addr)));
    }));
  });
});

describe('webhook delivery re-checks the target when connecting (DNS rebinding)', () => {
  let server: http.Server;
  let port = 0;
  const received: string[] = [];
  before(async () => {
    server = http.createServer((req, res) => { let b = ''; req.on('data', (c: Buffer) => { b += c; }); req.on('end', () => { received.push(b); res.end('ok'); }); });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  it('refuses a name that now resolves to 127.0.0.1, and delivers to it only under the allowance', async () => {
    received.length = 0;
    let answer = '93.184.216.34';
    const resolve: Resolve = async () => [{ address: answer, family: 4 }];
    const url = `http://rebind.example:${port}/hook`;
    await checkWebhookUrl(url, { allowPrivate: false, resolve }); // saved while it looked public
    answer = '127.0.0.1'; // re-pointed before delivery
    const r = await postWebhook(url, '{"a":1}', 'whsec_x', 1, { policy: { allowPrivate: false, resolve }, timeoutMs: 2000 });
    assert.equal(r.statusCode, null);
    assert.match(r.error!, /refused/);
    const literal = await postWebhook(`http://127.0.0.1:${port}/hook`, '{"a":1}', 'whsec_x', 2, { policy: strict, timeoutMs: 2000 });
    assert.match(literal.error!, /refused target/);
    assert.deepEqual(received, [], 'nothing reached the internal service');
    const allowed = await postWebhook(url, '{"a":2}', 'whsec_x', 3, { policy: { allowPrivate: true, resolve }, timeoutMs: 2000 });
    assert.equal(allowed.statusCode, 200);
    assert.deepEqual(received, ['{"a":2}']);
  });
});
