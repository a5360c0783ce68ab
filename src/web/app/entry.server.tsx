import { PassThrough } from 'node:stream';
import type { EntryContext, HandleErrorFunction, RouterContextProvider } from 'react-router';
import { ServerRouter } from 'react-router';
import { createReadableStreamFromReadable } from '@react-router/node';
import { isbot } from 'isbot';
import { renderToPipeableStream, type RenderToPipeableStreamOptions } from 'react-dom/server';

import { webContext } from './lib/context.ts';

// Re-exported so the Fastify side (src/web/server.ts) fills the very context object the bundled loaders read.
export { webContext };

/** Loader, action and render errors go to the request's pino logger (aborted requests are not errors). */
export const handleError: HandleErrorFunction = (error, { request, context }) => {
  if (request.signal.aborted) return;
  try {
    context.get(webContext).log.error({ err: error, url: request.url }, 'page failed');
  } catch {
    console.error(error);
  }
};

export const streamTimeout = 5_000;

/** Streams the document; bots (and our own benchmarks with a bot UA) get it only when fully rendered. */
export default function handleRequest(
  request: Request, status: number, headers: Headers, routerContext: EntryContext, _load: RouterContextProvider,
): Response | Promise<Response> {
  if (request.method.toUpperCase() === 'HEAD') return new Response(null, { status, headers });
  return new Promise((resolve, reject) => {
    let shellRendered = false;
    const ua = request.headers.get('user-agent');
    const readyOption: keyof RenderToPipeableStreamOptions = (ua && isbot(ua)) || routerContext.isSpaMode ? 'onAllReady' : 'onShellReady';
    let timer: ReturnType<typeof setTimeout> | undefined = setTimeout(() => abort(), streamTimeout + 1000);
    const { pipe, abort } = renderToPipeableStream(<ServerRouter context={routerContext} url={request.url} />, {
      [readyOption]() {
        shellRendered = true;
        const body = new PassThrough({ final(cb) { clearTimeout(timer); timer = undefined; cb(); } });
        headers.set('Content-Type', 'text/html; charset=utf-8');
        pipe(body);
        resolve(new Response(createReadableStreamFromReadable(body), { headers, status }));
      },
      onShellError: reject,
      onError(error: unknown) {
        status = 500;
        // Errors before the shell reject and reach handleError; later ones (inside Suspense) only here.
        if (shellRendered) console.error(error);
      },
    });
  });
}
