import { data } from 'react-router';
import { isIsoDate } from './time.ts';
import { ERA_TEXT } from '../../../grid/time.ts';

/** What a refused value looked like, short and printable (it is shown back to the visitor as text). */
const shown = (v: string) => {
  const printable = v.replace(/[\p{Cc}\p{Cf}]/gu, '\uFFFD');
  return printable.length > 40 ? `${printable.slice(0, 40)}…` : printable;
};

/**
 * A page's query parameter it cannot honour: a 400 page that names the field, never another day or order
 * shown in its place (the pages' counterpart of the API's problem+json `field`).
 */
export function badQuery(field: string, expected: string, got: string): never {
  throw data(`Query parameter '${field}' must be ${expected}; got '${shown(got)}'.`, { status: 400, statusText: 'Bad Request' });
}

/** An optional calendar date (`YYYY-MM-DD`, a real day in GridPulse's era): null when absent or empty, 400 otherwise. */
export function queryDate(params: URLSearchParams, field = 'date'): string | null {
  const v = params.get(field);
  // An empty field is a form sent without a day: no day asked, not a wrong one.
  if (v === null || v === '') return null;
  if (!isIsoDate(v)) badQuery(field, `a calendar date YYYY-MM-DD ${ERA_TEXT}`, v);
  return v;
}

/** An optional choice among fixed words: null when absent, 400 when not one of them. */
export function queryChoice<T extends string>(params: URLSearchParams, field: string, allowed: readonly T[]): T | null {
  const v = params.get(field);
  if (v === null) return null;
  if (!(allowed as readonly string[]).includes(v)) badQuery(field, `one of ${allowed.join(', ')}`, v);
  return v as T;
}
