// What pdf.js fetches besides the document: the CMaps of Chinese (GB) encodings. A PDF whose
// Chinese font is not embedded (electronic invoices often are made so) names its characters
// through one of these; without it pdf.js draws no text at all. Served from our own origin
// as hashed assets (CSP: connect-src 'self'), fetched only when a PDF asks for one; loaded
// with pdf.js, not before.
const CMAPS = import.meta.glob<string>("/node_modules/pdfjs-dist/cmaps/*GB*.bcmap", {
  query: "?url",
  import: "default",
  eager: true,
});

const byName = new Map<string, string>();
for (const [path, url] of Object.entries(CMAPS)) {
  const name = path.split("/").pop();
  if (name) byName.set(name, url);
}

/**
 * pdf.js's `BinaryDataFactory`: built-in CMaps by file name (`UniGB-UCS2-H.bcmap`). Fonts
 * and wasm are not provided: pdf.js draws standard fonts with the system's.
 */
export class BinaryData {
  // pdf.js constructs it with its URL options, which are not used.
  constructor(_options: unknown) {}

  async fetch({ kind, filename }: { kind: string; filename: string }): Promise<Uint8Array> {
    const url = kind === "cMapUrl" ? byName.get(filename) : undefined;
    if (!url) throw new Error(`pdf data not provided: ${kind} ${filename}`);
    // Vite inlines the smallest as data: URLs, which the CSP's connect-src does not fetch.
    if (url.startsWith("data:")) return fromDataUrl(url);
    const response = await fetch(url);
    if (!response.ok) throw new Error(`pdf data: HTTP ${response.status} for ${filename}`);
    return new Uint8Array(await response.arrayBuffer());
  }
}

function fromDataUrl(url: string): Uint8Array {
  const comma = url.indexOf(",");
  const meta = url.slice(5, comma);
  const body = url.slice(comma + 1);
  if (!meta.endsWith(";base64")) return new TextEncoder().encode(decodeURIComponent(body));
  const bin = atob(body);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return bytes;
}
