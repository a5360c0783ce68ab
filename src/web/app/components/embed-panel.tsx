import { useState } from 'react';
import { useRouteLoaderData } from 'react-router';
import type { loader as rootLoader } from '../root.tsx';
import { EMBED_KINDS, embedSnippet } from '../lib/embed-kinds.ts';

function Snippet({ id, label, text }: { id: string; label: string; text: string }) {
  const [copied, setCopied] = useState(false);
  return (
    <div className="snippet-row">
      <label htmlFor={id}>{label}</label>
      <textarea id={id} className="snippet" readOnly rows={3} value={text} onFocus={(e) => e.currentTarget.select()} />
      <button type="button" onClick={() => { void navigator.clipboard?.writeText(text).then(() => setCopied(true)); }}>{copied ? 'Copied' : 'Copy'}</button>
    </div>
  );
}

/**
 * "Embed this": copy-paste iframe and badge snippets (a disclosure, so it works without JavaScript too). They
 * name this site as the server knows it (PUBLIC_URL, else the request's own origin), in the first render.
 */
export function EmbedPanel({ code }: { code: string }) {
  const origin = useRouteLoaderData<typeof rootLoader>('root')?.origin ?? '';
  return (
    <details className="embed-panel">
      <summary>Embed {code} on your site</summary>
      <p>Embeds update themselves with each new hour; badges are cached for five minutes.</p>
      {EMBED_KINDS.map((k) => (
        <Snippet key={k.kind} id={`embed-${k.kind}`} label={`${k.label} (${k.width} × ${k.height} px)`} text={embedSnippet(origin, code, k)} />
      ))}
      <Snippet id="embed-badge" label="Badge (HTML)" text={`<a href="${origin}/ba/${code}"><img src="${origin}/badge/${code}.svg" alt="${code} carbon intensity"></a>`} />
      <Snippet id="embed-badge-md" label="Badge (Markdown)" text={`[![${code} carbon intensity](${origin}/badge/${code}.svg)](${origin}/ba/${code})`} />
      <p><img src={`/badge/${code}.svg`} alt={`${code} carbon intensity badge`} height={20} /></p>
    </details>
  );
}
