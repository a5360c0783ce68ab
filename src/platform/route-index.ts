import FindMyWay from 'find-my-way';
import type { HTTPMethods, RouteOptions } from 'fastify';

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * Path prefixes a catch-all route does not serve: it hands them to the not-found handler (the site's
     * pages hand back /api/ and /docs), so they are not counted as its paths when answering 405.
     */
    notFoundUnder?: readonly string[];
  }
}

/** What the index keeps of one route: whether browsers on any origin may read it, and what it hands back. */
export interface IndexedRoute { crossOrigin: boolean; notFoundUnder: readonly string[] }

type Method = FindMyWay.HTTPMethod;

/**
 * A second router (Fastify's own, find-my-way) holding every route's method and URL pattern, so the
 * not-found handler can tell "no such resource" (404) from "no such method here" (405 with `Allow`), and
 * a CORS preflight can be judged by the route it asks about rather than by the OPTIONS catch-all.
 */
export class RouteIndex {
  private readonly router = FindMyWay();
  private readonly methods = new Set<Method>();

  add(route: RouteOptions, entry: IndexedRoute): void {
    for (const method of ([] as HTTPMethods[]).concat(route.method)) {
      // Preflights are CORS machinery (answered per target route), not a method of any resource.
      if (method === 'OPTIONS') continue;
      const m = method as Method;
      if (this.router.hasRoute(m, route.url)) continue; // the same pattern under another constraint
      this.router.on(m, route.url, () => undefined, entry);
      this.methods.add(m);
    }
  }

  /** The route that would answer `method path` (query string ignored), or undefined. */
  find(method: string, url: string): IndexedRoute | undefined {
    const path = url.split('?')[0]!;
    if (!this.methods.has(method as Method)) return undefined;
    let entry: IndexedRoute | undefined;
    try {
      entry = this.router.find(method as Method, path)?.store as IndexedRoute | undefined;
    } catch {
      return undefined; // a path find-my-way cannot decode matches nothing
    }
    if (!entry || entry.notFoundUnder.some((prefix) => path.startsWith(prefix))) return undefined;
    return entry;
  }

  /** Every method some route answers at this path, in a stable order (for the `Allow` header). */
  allowed(url: string): string[] {
    return [...this.methods].filter((m) => this.find(m, url)).sort();
  }
}
