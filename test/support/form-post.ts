import type { FastifyInstance } from 'fastify';

/**
 * What a visitor's browser holds after loading a page: the anti-forgery cookie the page set and the token
 * it rendered into its forms' hidden `csrf` field (the same value). Tests use it to post as the site's own form.
 */
export async function formCredentials(app: FastifyInstance, page = '/'): Promise<{ cookie: string; csrf: string }> {
  const res = await app.inject(page);
  const cookie = ([] as string[]).concat(res.headers['set-cookie'] ?? []).find((c) => c.startsWith('gp_csrf='))?.split(';')[0];
  const csrf = /<input type="hidden" name="csrf" value="([^"]+)"/.exec(res.body)?.[1];
  if (!cookie || !csrf) throw new Error(`no anti-forgery cookie or field on ${page}`);
  return { cookie, csrf };
}

/** The anti-forgery token of a signed-in browser (bound to its session): the `csrf` field of a page loaded with its cookies. */
export async function sessionCsrf(app: FastifyInstance, cookie: string, page = '/account'): Promise<string> {
  const res = await app.inject({ url: page, headers: { cookie } });
  const csrf = /<input type="hidden" name="csrf" value="([^"]+)"/.exec(res.body)?.[1];
  if (!csrf) throw new Error(`no anti-forgery field on ${page} (${res.statusCode})`);
  return csrf;
}
