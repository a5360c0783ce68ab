import type { FastifyInstance } from 'fastify';
import type { z } from 'zod';
import { HttpProblem } from './problem.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * The route validates the items of its body one by one (partial success) and refuses control characters
     * in them itself (with `noControlCharacters`), so one bad item does not refuse the whole request.
     */
    bodyItemsCheckedByRoute?: boolean;
  }
}

// C0 controls (NUL, tab, newline, escape…), DEL and the C1 controls. No field of the API carries free text in
// which a tab or newline would mean anything, and PostgreSQL refuses NUL in text outright.
// eslint-disable-next-line no-control-regex -- finding control characters is this pattern's purpose
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** True when a string has no control character (usable as a zod refinement). */
export const noControlCharacters = (s: string): boolean => !CONTROL.test(s);
/** The text with each control character replaced by a space (for free text, such as an error message, sent to the API). */
export const withoutControlCharacters = (s: string): string => s.replace(new RegExp(CONTROL.source, 'g'), ' ');
export const CONTROL_CHARACTER_MESSAGE = 'control characters (such as NUL, tab or newline) are not allowed';

/**
 * The path (`location`, `0/location`, `rows/3/series`) of the first string inside `value` (or of an object
 * key) that holds a control character, or undefined when there is none. Paths are slash-separated like the
 * schema errors' field names.
 */
export function controlCharacterPath(value: unknown, path = ''): string | undefined {
  const at = (key: string | number) => (path ? `${path}/${key}` : String(key));
  if (typeof value === 'string') return CONTROL.test(value) ? path : undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = controlCharacterPath(value[i], at(i));
      if (found !== undefined) return found;
    }
    return undefined;
  }
  if (value !== null && typeof value === 'object' && !Buffer.isBuffer(value)) {
    for (const [key, inner] of Object.entries(value)) {
      if (CONTROL.test(key)) return at(key.replace(CONTROL, '?'));
      const found = controlCharacterPath(inner, at(key));
      if (found !== undefined) return found;
    }
  }
  return undefined;
}

/**
 * Refuses, with a 400 naming the field, any control character in the query, path parameters or body of
 * every route that declares a schema for them: one check at the boundary, before the schemas and long before
 * the database. A value such as `series=%00` would otherwise pass a loose schema and fail in PostgreSQL.
 */
export function rejectControlCharacters(app: FastifyInstance): void {
  app.addHook('preValidation', async (req) => {
    const schema = req.routeOptions.schema;
    if (!schema) return;
    const parts: Array<[unknown, unknown]> = [[schema.querystring, req.query], [schema.params, req.params]];
    if (!req.routeOptions.config.bodyItemsCheckedByRoute) parts.push([schema.body, req.body]);
    for (const [declared, value] of parts) {
      if (!declared) continue;
      const field = controlCharacterPath(value);
      if (field !== undefined) throw new HttpProblem(400, `${field || 'body'}: ${CONTROL_CHARACTER_MESSAGE}`, field || 'body');
    }
  });
}

/**
 * A list input whose members must be distinct (saved view BAs and charts, key scopes, device ids of a group, …):
 * a repeated member is refused with 400 naming it (`bas/1: 'CISO' is already at bas/0`), never stored twice nor
 * silently de-duplicated. Members are compared after the item schema's own transforms (so `ciso` and `CISO`
 * are the same BA where the schema upper-cases codes).
 */
export function distinctItems<T extends z.ZodArray<z.ZodType>>(list: T): T {
  return list.superRefine((items, ctx) => {
    const seen = new Map<string, number>();
    (items as unknown[]).forEach((v, i) => {
      const key = JSON.stringify(v);
      const first = seen.get(key);
      if (first === undefined) seen.set(key, i);
      else ctx.addIssue({ code: 'custom', message: `duplicate member ${JSON.stringify(v)}: already at index ${first}; list members must be distinct`, path: [i] });
    });
  }) as T;
}
