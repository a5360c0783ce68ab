import { data } from 'react-router';
import type { ApiResult, WebContext } from './context.ts';
import type { Ba, Hourly } from './api-types.ts';

/** What a section renders from: the answer, or the reason there is none (shown to the reader). */
export type Part<T> = { ok: true; data: T } | { ok: false; detail: string; missing: boolean };

export const part = <T,>(r: ApiResult<T>): Part<T> => (r.ok ? { ok: true, data: r.data } : { ok: false, detail: r.detail, missing: r.missing });

export const BA_CODE = /^[A-Za-z0-9]{2,6}$/;

/** The BA or a 404 page (bad codes never reach the API). */
export async function requireBa(web: WebContext, raw: string | undefined): Promise<Ba> {
  if (!raw || !BA_CODE.test(raw)) throw data(`'${raw ?? ''}' is not a balancing authority code.`, { status: 404, statusText: 'Not Found' });
  const r = await web.reference<{ data: Ba }>(`/api/v1/bas/${raw.toUpperCase()}`);
  if (!r.ok) throw data(`No balancing authority '${raw.toUpperCase()}'.`, { status: r.status === 404 ? 404 : 502, statusText: r.status === 404 ? 'Not Found' : 'Bad Gateway' });
  return r.data.data;
}

/** Chart columns of one BA for [from, to): the analytics /hourly answer. */
export async function hourlyColumns(web: WebContext, code: string, from: Date, to: Date): Promise<Part<Hourly>> {
  return part(await web.api<Hourly>(`/api/v1/bas/${code}/hourly?from=${from.toISOString()}&to=${to.toISOString()}`));
}
