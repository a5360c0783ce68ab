import { PassThrough } from 'node:stream';
import type { EntryContext, RouterContextProvider } from 'react-router';
import { ServerRouter } from 'react-router';
import { createReadableStreamFromReadable } from '@react-router/node';
import { isbot } from 'isbot';
import { renderToPipeableStream, type RenderToPipeableStreamOptions } from 'react-dom/server';

// Re-exported so the Fastify side (src/web/server.ts) fills the very context object the bundled loaders read.
export { webContext } from './lib/context.ts';

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
        if (shellRendered) console.error(error);
      },
    });
  });
}
