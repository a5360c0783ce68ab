import type { Located, PlainAnswer } from './api-types.ts';

/** What a visitor typed or the browser located: the place, its BA and the answer in words, or why there is none. */
export interface WhereAnswer { asked: string; error: string | null; located: Located | null; answer: PlainAnswer | null }

/** The locate query for what a visitor typed (a ZIP code or a state), or for a browser position. */
export function locateQuery(params: URLSearchParams): { asked: string; query: string } | { asked: string; error: string } | null {
  const lat = params.get('lat'), lon = params.get('lon');
  if (lat !== null && lon !== null) return { asked: 'your location', query: `lat=${encodeURIComponent(lat)}&lon=${encodeURIComponent(lon)}` };
  const where = (params.get('where') ?? '').trim();
  if (!where) return null;
  if (/^\d{5}$/.test(where)) return { asked: where, query: `zip=${where}` };
  if (/^[A-Za-z]{2}$/.test(where)) return { asked: where.toUpperCase(), query: `state=${where.toUpperCase()}` };
  return { asked: where, error: 'Type a 5-digit ZIP code (94110) or a 2-letter state code (TX).' };
}
