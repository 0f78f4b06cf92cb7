// Vite's `?url` import of pdf.js's worker: the URL of the worker file it emits (one module
// named exactly, so it does not clash with vite/client's `*?url` if that is added).
declare module "pdfjs-dist/build/pdf.worker.min.mjs?url" {
  const url: string;
  export default url;
}
