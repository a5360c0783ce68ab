import { useEffect, useState } from 'react';

const KINDS = [
  { kind: 'now', label: 'Carbon intensity now', height: 150 },
  { kind: 'pulse', label: 'Daily Pulse', height: 230 },
  { kind: 'clean-window', label: 'Next clean window', height: 170 },
] as const;

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

/** "Embed this": copy-paste iframe and badge snippets (a disclosure, so it works without JavaScript too). */
export function EmbedPanel({ code }: { code: string }) {
  const [origin, setOrigin] = useState('https://gridpulse.example');
  useEffect(() => setOrigin(window.location.origin), []);
  return (
    <details className="embed-panel">
      <summary>Embed {code} on your site</summary>
      <p>Embeds update themselves with each new hour; badges are cached for five minutes.</p>
      {KINDS.map((k) => (
        <Snippet key={k.kind} id={`embed-${k.kind}`} label={k.label}
          text={`<iframe src="${origin}/embed/ba/${code}/${k.kind}" title="GridPulse ${code}: ${k.label}" width="320" height="${k.height}" style="border:0" loading="lazy"></iframe>`} />
      ))}
      <Snippet id="embed-badge" label="Badge (HTML)" text={`<a href="${origin}/ba/${code}"><img src="${origin}/badge/${code}.svg" alt="${code} carbon intensity"></a>`} />
      <Snippet id="embed-badge-md" label="Badge (Markdown)" text={`[![${code} carbon intensity](${origin}/badge/${code}.svg)](${origin}/ba/${code})`} />
      <p><img src={`/badge/${code}.svg`} alt={`${code} carbon intensity badge`} height={20} /></p>
    </details>
  );
}
