/**
 * The embeds other sites may frame (/embed/ba/{code}/{kind}) and the iframe size each snippet suggests: every
 * embed shows its answer, its source label and its freshness inside exactly that box (test/browser/embeds.test.ts).
 */
export const EMBED_KINDS = [
  { kind: 'now', label: 'Carbon intensity now', width: 320, height: 150 },
  { kind: 'pulse', label: 'Daily Pulse', width: 320, height: 230 },
  { kind: 'clean-window', label: 'Next clean window', width: 320, height: 170 },
] as const;

export type EmbedKind = (typeof EMBED_KINDS)[number]['kind'];

/** The iframe snippet for one embed, naming the site where visitors reach it. */
export function embedSnippet(origin: string, code: string, kind: (typeof EMBED_KINDS)[number]): string {
  return `<iframe src="${origin}/embed/ba/${code}/${kind.kind}" title="GridPulse ${code}: ${kind.label}" width="${kind.width}" height="${kind.height}" style="border:0" loading="lazy"></iframe>`;
}
