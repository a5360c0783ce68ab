import type { UserRole } from './principal.ts';

/**
 * Scopes name what an API key may do. Worker keys write grid data; device keys belong to the fleet;
 * personal keys act for their owner within the scopes the owner's role allows.
 */
export const SCOPES = {
  'data:write': 'write observations and worker runs through the data API',
  'fleet:device': 'a battery device: fetch schedules, acknowledge, send telemetry',
  'me:read': 'read the owner\'s profile',
  'views:read': 'read the owner\'s saved views',
  'views:write': 'create, change and delete the owner\'s saved views',
  'alerts:read': 'read the owner\'s alerts and their delivery log',
  'alerts:write': 'create, change and delete the owner\'s alerts',
  'egrid:write': 'upload eGRID files',
  'audit:read': 'read the audit log',
} as const;
export type Scope = keyof typeof SCOPES;
export const isScope = (s: string): s is Scope => Object.hasOwn(SCOPES, s);

export const KEY_KINDS = ['worker', 'device', 'personal'] as const;
export type KeyKind = (typeof KEY_KINDS)[number];

/** The scopes a user of each role holds; a personal key gets at most its owner's. */
export const ROLE_SCOPES: Readonly<Record<UserRole, readonly Scope[]>> = {
  admin: ['me:read', 'views:read', 'views:write', 'alerts:read', 'alerts:write', 'egrid:write', 'audit:read', 'data:write'],
  operator: ['me:read', 'views:read', 'views:write', 'alerts:read', 'alerts:write'],
  analyst: ['me:read', 'views:read', 'views:write', 'alerts:read', 'alerts:write', 'egrid:write'],
  viewer: ['me:read', 'views:read', 'views:write', 'alerts:read', 'alerts:write'],
};

/** The scopes each kind of key may carry (a personal key also within its owner's role). */
export const KIND_SCOPES: Readonly<Record<KeyKind, readonly Scope[]>> = {
  worker: ['data:write'],
  device: ['fleet:device'],
  personal: ['me:read', 'views:read', 'views:write', 'alerts:read', 'alerts:write', 'egrid:write', 'audit:read'],
};

/** Default scopes of a new key of a kind when none are asked for. */
export const DEFAULT_SCOPES: Readonly<Record<KeyKind, readonly Scope[]>> = {
  worker: ['data:write'], device: ['fleet:device'], personal: ['me:read'],
};
