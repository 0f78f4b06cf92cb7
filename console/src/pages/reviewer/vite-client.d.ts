// Vite's client types (`?url` imports, `import.meta.glob`), which the console's tsconfig
// does not list: pdf.js's worker and CMaps are imported through them here.
/// <reference types="vite/client" />
