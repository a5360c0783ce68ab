import { createContext } from 'react-router';

/** Answer of one in-process API call: the parsed JSON, or why there is none. */
export type ApiResult<T> =
  | { ok: true; status: number; data: T }
  | { ok: false; status: number; missing: boolean; detail: string };

/**
 * What the Fastify process hands to every loader: API calls served in-process (app.inject, so the pages
 * see exactly what API clients see, missing endpoints included).
 */
export interface WebContext {
  api<T>(path: string): Promise<ApiResult<T>>;
  /** Like api(), for reference data (the BA list, one BA) that changes rarely: good answers cached five minutes. */
  reference<T>(path: string): Promise<ApiResult<T>>;
  /** This visitor's anti-forgery token, rendered into every form that posts (see src/web/csrf.ts). */
  csrfToken: string;
  /** Server clock, so tests and benchmarks can pin "now". */
  now(): Date;
  /** The site's public address (config PUBLIC_URL), when set: snippets for other sites name it instead of the request's host. */
  publicUrl?: string | undefined;
  /** The signed-in visitor (gp_session cookie), or null. */
  viewer: { userId: string; role: 'admin' | 'operator' | 'analyst' | 'viewer' } | null;
  /**
   * An in-process API call as this visitor: their session cookie, anti-forgery token, address and user agent
   * travel with it, so the API's own access rules and audit apply. The answer's Set-Cookie headers (signing
   * in and out) are handed back for the page's response. A 401/403's detail is worded for people (lib/page-problem.ts).
   */
  call<T>(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string, body?: unknown): Promise<ApiResult<T> & { setCookie: string[] }>;
  /** The request's structured logger (pino, with the request id). */
  log: { error(obj: object, msg: string): void };
}

export const webContext = createContext<WebContext>();
