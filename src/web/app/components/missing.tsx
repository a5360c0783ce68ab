import type { Part } from '../lib/loaders.ts';

/** Says plainly that a section has no data and why, instead of rendering nothing or zeros. */
export function Missing({ what, part }: { what: string; part: Extract<Part<unknown>, { ok: false }> }) {
  return (
    <p className="notice" role="status">
      {what} is not available {part.missing ? '(its API endpoint is not deployed on this server yet)' : `(${part.detail})`}.
    </p>
  );
}
