import { readFileSync } from 'node:fs';
import { hostname, uptime } from 'node:os';
import { alive } from './store-lock.ts';

/**
 * Who owns a run or a claimed job: the process id, the host name and the host's boot id. Recorded with
 * the run, it lets any later process on the same host tell at once that the owner is gone (`kill -9`, a
 * crash, a reboot) instead of waiting for its heartbeat to go stale. A process on another host cannot be
 * checked from here: for it the heartbeat still decides. On PGlite the store lock (store-lock.ts) already
 * makes the opener the store's only process, so every other owner found there is on this host and gone.
 */
export interface ProcessOwner { pid: number; host: string; boot: string }

/**
 * Linux's boot id changes at every boot, so a pid recorded before a reboot is never mistaken for a live
 * one after it. Elsewhere the boot time to the minute stands in for it.
 */
function bootId(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return `boot@${Math.round((Date.now() / 1000 - uptime()) / 60)}`;
  }
}

let me: ProcessOwner | undefined;

/** This process as an owner. */
export function thisProcess(): ProcessOwner {
  me ??= { pid: process.pid, host: hostname(), boot: bootId() };
  return me;
}

function parse(owner: unknown): ProcessOwner | undefined {
  const o = (typeof owner === 'object' ? owner : undefined) as Partial<ProcessOwner> | null | undefined;
  return o && typeof o.pid === 'number' && typeof o.host === 'string' && typeof o.boot === 'string' ? { pid: o.pid, host: o.host, boot: o.boot } : undefined;
}

/**
 * True when the recorded owner is certainly gone: on this host, and either booted since or no process
 * with its pid is alive. False when it is alive, is this process, or cannot be checked (another host,
 * no owner recorded, or not an object: `owner` is the jsonb column as the Db returns it, decoded). A pid reused by an
 * unrelated process reads as alive: the heartbeat then decides.
 */
export function ownerGone(owner: unknown, self: ProcessOwner = thisProcess()): boolean {
  const o = parse(owner);
  if (!o || o.host !== self.host) return false;
  if (o.boot !== self.boot) return true;
  if (o.pid === self.pid) return false;
  return !alive(o.pid);
}
