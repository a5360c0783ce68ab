import { BlockList, isIP } from 'node:net';
import { lookup as dnsLookup } from 'node:dns/promises';
import { HttpProblem } from '../platform/problem.ts';

/**
 * Webhook targets and server-side request forgery (OWASP SSRF Prevention Cheat Sheet): a user's URL
 * is fetched by our worker, inside our network, so it must not reach loopback, private, link-local
 * (cloud metadata at 169.254.169.254), CGNAT, multicast or reserved addresses, in any spelling.
 * The WHATWG URL parser canonicalises IPv4 spellings (0x7f.1, 2130706433, 017700000001 → 127.0.0.1);
 * IPv6 forms that embed an IPv4 address (mapped ::ffff:a.b.c.d, NAT64 64:ff9b::/96, 6to4 2002::/16,
 * IPv4-compatible ::a.b.c.d) are judged by the IPv4 address inside. A host NAME is judged by every
 * address it resolves to, at validation and again at connection time (DNS rebinding: a name may
 * resolve to a public address when saved and to 127.0.0.1 when delivered). Link-local and cloud metadata
 * targets are refused even when private targets are allowed (ALWAYS_REFUSED).
 */

const V4_REFUSED: ReadonlyArray<readonly [string, number, string]> = [
  ['0.0.0.0', 8, 'this network'],
  ['10.0.0.0', 8, 'private (RFC 1918)'],
  ['100.64.0.0', 10, 'carrier-grade NAT (RFC 6598)'],
  ['127.0.0.0', 8, 'loopback'],
  ['169.254.0.0', 16, 'link-local (cloud metadata)'],
  ['172.16.0.0', 12, 'private (RFC 1918)'],
  ['192.0.0.0', 24, 'IETF protocol assignments'],
  ['192.0.2.0', 24, 'documentation'],
  ['192.88.99.0', 24, '6to4 relay anycast'],
  ['192.168.0.0', 16, 'private (RFC 1918)'],
  ['198.18.0.0', 15, 'benchmarking'],
  ['198.51.100.0', 24, 'documentation'],
  ['203.0.113.0', 24, 'documentation'],
  ['224.0.0.0', 4, 'multicast'],
  ['240.0.0.0', 4, 'reserved / broadcast'],
];

const V6_REFUSED: ReadonlyArray<readonly [string, number, string]> = [
  ['::', 128, 'unspecified'],
  ['::1', 128, 'loopback'],
  ['100::', 64, 'discard-only'],
  ['2001::', 32, 'Teredo'],
  ['2001:db8::', 32, 'documentation'],
  ['fc00::', 7, 'unique local (ULA)'],
  ['fe80::', 10, 'link-local'],
  ['fec0::', 10, 'site-local'],
  ['ff00::', 8, 'multicast'],
];

const refused = new Map<string, BlockList>();
for (const [net, prefix, why] of V4_REFUSED) {
  const list = refused.get(why) ?? new BlockList();
  list.addSubnet(net, prefix, 'ipv4');
  refused.set(why, list);
}
for (const [net, prefix, why] of V6_REFUSED) {
  const list = refused.get(why) ?? new BlockList();
  list.addSubnet(net, prefix, 'ipv6');
  refused.set(why, list);
}

/** The IPv4 address an IPv6 address carries (mapped, IPv4-compatible, NAT64, 6to4), if any. */
export function embeddedIpv4(v6: string): string | undefined {
  const words = expandIpv6(v6);
  if (!words) return undefined;
  const v4 = (hi: number, lo: number) => `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  const zeros = (from: number, to: number) => words.slice(from, to).every((w) => w === 0);
  if (zeros(0, 5) && words[5] === 0xffff) return v4(words[6]!, words[7]!); // ::ffff:a.b.c.d
  if (zeros(0, 6) && (words[6]! !== 0 || words[7]! > 1)) return v4(words[6]!, words[7]!); // ::a.b.c.d (deprecated compatible form)
  if (words[0] === 0x64 && words[1] === 0xff9b && zeros(2, 6)) return v4(words[6]!, words[7]!); // NAT64 64:ff9b::/96
  if (words[0] === 0x2002) return v4(words[1]!, words[2]!); // 6to4 2002:AABB:CCDD::/48
  return undefined;
}

/** Eight 16-bit words of an IPv6 address (with an optional dotted IPv4 tail), or undefined when it is not one. */
function expandIpv6(address: string): number[] | undefined {
  let text = address.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  if (isIP(text) !== 6) return undefined;
  const tail = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (tail) {
    const [a, b, c, d] = tail[1]!.split('.').map(Number) as [number, number, number, number];
    text = text.slice(0, -tail[1]!.length) + `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, rest] = text.includes('::') ? text.split('::') as [string, string] : [text, undefined];
  const left = head ? head.split(':') : [];
  const right = rest ? rest.split(':') : [];
  const fill = rest === undefined ? [] : new Array<string>(8 - left.length - right.length).fill('0');
  const words = [...left, ...fill, ...right].map((w) => parseInt(w, 16));
  return words.length === 8 ? words : undefined;
}

/** Why an IP address may not be a webhook target (e.g. 'loopback'), or undefined when it may. */
export function refusedAddressReason(address: string): string | undefined {
  const family = isIP(address);
  if (family === 0) return 'not an IP address';
  if (family === 6) {
    const inner = embeddedIpv4(address);
    if (inner !== undefined) {
      const why = refusedAddressReason(inner);
      return why ? `${why} (as IPv6 ${address})` : undefined;
    }
  }
  const type = family === 4 ? 'ipv4' : 'ipv6';
  for (const [why, list] of refused) if (list.check(address, type)) return why;
  return undefined;
}

/**
 * Cloud instance-metadata and link-local targets: refused even when an administrator allows private targets
 * (WEBHOOK_ALLOW_PRIVATE=1), since no webhook receiver lives there and the metadata service hands out the
 * machine's credentials. Addresses: IPv4 link-local 169.254.0.0/16 (AWS, GCP, Azure, OpenStack metadata at
 * 169.254.169.254), IPv6 link-local fe80::/10, AWS's IPv6 metadata fd00:ec2::254, Alibaba's 100.100.100.200,
 * Oracle's 192.0.0.192. Names: the metadata host names of GCP, AWS and Azure.
 */
const ALWAYS_REFUSED = new BlockList();
ALWAYS_REFUSED.addSubnet('169.254.0.0', 16, 'ipv4');
ALWAYS_REFUSED.addAddress('100.100.100.200', 'ipv4');
ALWAYS_REFUSED.addAddress('192.0.0.192', 'ipv4');
ALWAYS_REFUSED.addSubnet('fe80::', 10, 'ipv6');
ALWAYS_REFUSED.addAddress('fd00:ec2::254', 'ipv6');
export const METADATA_HOST_NAMES: ReadonlySet<string> = new Set([
  'metadata', 'metadata.google.internal', 'metadata.goog', 'instance-data', 'instance-data.ec2.internal', 'metadata.azure.internal', 'metadata.azure.com',
]);

/** Why an IP address is never a webhook target, whatever the policy ('link-local or cloud metadata'), or undefined. */
export function alwaysRefusedReason(address: string): string | undefined {
  const family = isIP(address.replace(/%.*$/, ''));
  if (family === 0) return undefined;
  const bare = address.replace(/%.*$/, '');
  if (family === 6) {
    const inner = embeddedIpv4(bare);
    if (inner !== undefined) return alwaysRefusedReason(inner) ? `link-local or cloud metadata (as IPv6 ${address})` : undefined;
  }
  return ALWAYS_REFUSED.check(bare, family === 4 ? 'ipv4' : 'ipv6') ? 'link-local or cloud metadata' : undefined;
}

/** Resolves a host name to all its addresses (node:dns by default; tests inject a fake resolver). */
export type Resolve = (hostname: string) => Promise<ReadonlyArray<{ address: string; family: number }>>;

export const systemResolve: Resolve = (hostname) => dnsLookup(hostname, { all: true, verbatim: true });

export interface TargetPolicy {
  /** The administrator's allowance (WEBHOOK_ALLOW_PRIVATE=1): private and loopback targets are accepted. */
  allowPrivate: boolean;
  resolve?: Resolve;
}

const MAX_URL_LENGTH = 2048;

/**
 * Ports above 1023 on which well-known non-HTTP services listen (databases, caches, brokers, remote desktops,
 * container and cluster APIs): a webhook there only probes the service, and the delivery log's status codes
 * and errors would tell the caller what answered.
 */
export const REFUSED_SERVICE_PORTS: ReadonlyMap<number, string> = new Map([
  [1433, 'SQL Server'], [1521, 'Oracle'], [1883, 'MQTT'], [2375, 'Docker API'], [2376, 'Docker API'], [2379, 'etcd'], [2380, 'etcd'],
  [3306, 'MySQL'], [3389, 'RDP'], [4369, 'Erlang port mapper'], [5432, 'PostgreSQL'], [5672, 'AMQP'], [5900, 'VNC'], [5984, 'CouchDB'],
  [6379, 'Redis'], [6443, 'Kubernetes API'], [8883, 'MQTT over TLS'], [9042, 'Cassandra'], [9092, 'Kafka'], [9200, 'Elasticsearch'],
  [9300, 'Elasticsearch transport'], [10250, 'kubelet'], [11211, 'memcached'], [27017, 'MongoDB'],
]);

/**
 * Why a webhook may not target this port, or undefined when it may: 80 and 443, or any port from 1024 up except
 * REFUSED_SERVICE_PORTS. Ports 1–1023 (ssh 22, smtp 25, …) are system services, never webhook receivers.
 * The rule holds whatever the address policy, so a stored alert cannot be used to scan a host's ports.
 */
export function refusedPortReason(port: number): string | undefined {
  if (port === 80 || port === 443) return undefined;
  if (port < 1024) return `port ${port} is a system service port (allowed: 80, 443, or 1024–65535 except well-known service ports)`;
  const service = REFUSED_SERVICE_PORTS.get(port);
  return service ? `port ${port} is the ${service} service port, not a webhook receiver` : undefined;
}

/**
 * Checks a webhook URL: http or https, no credentials in it, an allowed port (refusedPortReason), a host that is (or resolves only to)
 * public addresses unless the policy allows private ones. Returns the canonical URL; throws a 400
 * HttpProblem naming `field` otherwise. A name that does not resolve is refused too.
 */
export async function checkWebhookUrl(raw: string, policy: TargetPolicy, field = 'webhookUrl'): Promise<URL> {
  const bad = (why: string) => new HttpProblem(400, `${field}: ${why}`, field);
  if (raw.length > MAX_URL_LENGTH) throw bad(`at most ${MAX_URL_LENGTH} characters`);
  let url: URL;
  try { url = new URL(raw); } catch { throw bad('not a URL (e.g. https://example.com/hooks/gridpulse)'); }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw bad(`only http and https targets are allowed, not ${url.protocol.replace(':', '')}`);
  if (url.username || url.password) throw bad('credentials in the URL are not allowed (authenticate the delivery by its signature)');
  if (!url.hostname) throw bad('the URL has no host');
  const portWhy = refusedPortReason(url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80);
  if (portWhy) throw bad(portWhy);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const always = isIP(host) ? alwaysRefusedReason(host) : METADATA_HOST_NAMES.has(host.replace(/\.$/, '').toLowerCase()) ? 'a cloud metadata service' : undefined;
  if (always) throw bad(`the target ${host} is ${always}: never allowed, even when private targets are`);
  if (policy.allowPrivate) return url;
  if (isIP(host)) {
    const why = refusedAddressReason(host);
    if (why) throw bad(`the target ${host} is ${why}: not allowed (an administrator may allow private targets)`);
    return url;
  }
  if (host === 'localhost' || host.endsWith('.localhost')) throw bad('the target is loopback (localhost): not allowed');
  let addresses: ReadonlyArray<{ address: string }>;
  try { addresses = await (policy.resolve ?? systemResolve)(host); } catch { throw bad(`the host ${host} does not resolve`); }
  if (addresses.length === 0) throw bad(`the host ${host} does not resolve`);
  for (const { address } of addresses) {
    const why = refusedAddressReason(address);
    if (why) throw bad(`the host ${host} resolves to ${address}, which is ${why}: not allowed`);
  }
  return url;
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | Array<{ address: string; family: number }>, family?: number) => void;

/**
 * A `lookup` for node:http(s) that resolves with `resolve` and refuses the connection when any address
 * is not allowed: the check made at the moment of connecting, so a name re-pointed after it was saved
 * (DNS rebinding) cannot reach an internal service.
 */
export function guardedLookup(policy: TargetPolicy) {
  return (hostname: string, options: { all?: boolean }, callback: LookupCallback): void => {
    (policy.resolve ?? systemResolve)(hostname).then((addresses) => {
      if (addresses.length === 0) throw Object.assign(new Error(`${hostname} does not resolve`), { code: 'ENOTFOUND' });
      for (const { address } of addresses) {
        const why = alwaysRefusedReason(address);
        if (why) throw Object.assign(new Error(`refused: ${hostname} resolves to ${address}, which is ${why}`), { code: 'EREFUSEDTARGET' });
      }
      if (!policy.allowPrivate) {
        for (const { address } of addresses) {
          const why = refusedAddressReason(address);
          if (why) throw Object.assign(new Error(`refused: ${hostname} resolves to ${address}, which is ${why}`), { code: 'EREFUSEDTARGET' });
        }
      }
      if (options.all) callback(null, addresses.map((a) => ({ address: a.address, family: a.family })));
      else callback(null, addresses[0]!.address, addresses[0]!.family);
    }).catch((err: NodeJS.ErrnoException) => callback(err, '', 0));
  };
}
