// What pdf.js fetches besides the document, served from our own origin as hashed assets
// (CSP: connect-src 'self'), each fetched only when a PDF asks for it; loaded with pdf.js,
// not before.
// - The CMaps of Chinese (GB) encodings. A PDF whose Chinese font is not embedded (electronic
//   invoices often are made so) names its characters through one of these; without it pdf.js
//   draws no text at all.
// - The WebAssembly image decoders of scanned documents: openjpeg.wasm (JPEG 2000, /JPXDecode)
//   and jbig2.wasm (JBIG2 and CCITT fax, /JBIG2Decode and /CCITTFaxDecode). pdf.js's worker
//   asks for them by these names (kind `wasmUrl`) and compiles the bytes with
//   WebAssembly.instantiate (CSP: script-src 'wasm-unsafe-eval'). Their
//   `*_nowasm_fallback.js` twins are not provided: pdf.js only imports one when wasm fails,
//   and a script import is what the CSP would refuse anyway.
// Not provided: qcms_bg.wasm (ICC colour), which pdf.js's worker fetches by URL itself and
// only when it fetches everything itself (`useWorkerFetch`, which we turn off so CMaps and
// decoders come from here); without it pdf.js draws ICC-based colours through their
// alternate (DeviceRGB/Gray/CMYK) colour space. Nor the standard fonts: pdf.js draws
// non-embedded standard fonts with the system's.
const CMAPS = import.meta.glob<string>("/node_modules/pdfjs-dist/cmaps/*GB*.bcmap", {
  query: "?url",
  import: "default",
  eager: true,
});
const WASM = import.meta.glob<string>(
  ["/node_modules/pdfjs-dist/wasm/openjpeg.wasm", "/node_modules/pdfjs-dist/wasm/jbig2.wasm"],
  { query: "?url", import: "default", eager: true },
);

function byFileName(files: Record<string, string>): Map<string, string> {
  const map = new Map<string, string>();
  for (const [path, url] of Object.entries(files)) {
    const name = path.split("/").pop();
    if (name) map.set(name, url);
  }
  return map;
}

const PROVIDED: Record<string, Map<string, string>> = {
  cMapUrl: byFileName(CMAPS),
  wasmUrl: byFileName(WASM),
};

/**
 * pdf.js's `BinaryDataFactory`: built-in CMaps by file name (`UniGB-UCS2-H.bcmap`) and the
 * wasm image decoders (`openjpeg.wasm`, `jbig2.wasm`).
 */
export class BinaryData {
  // pdf.js constructs it with its URL options, which are not used.
  constructor(_options: unknown) {}

  async fetch({ kind, filename }: { kind: string; filename: string }): Promise<Uint8Array> {
    const url = PROVIDED[kind]?.get(filename);
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
