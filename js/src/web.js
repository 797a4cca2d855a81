// Browser: a bundle from a URL, run on onnxruntime-web (pass the `ort` module you loaded).
import { loadPredictor } from './bundle.js';
import { BundleError } from './errors.js';

export * from './index.js';

/** The files of a bundle published at `baseUrl` (a folder URL). */
export function url(baseUrl) {
  const base = baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`;
  return {
    where: base.slice(0, -1),
    async read(name) {
      const response = await fetch(new URL(name, new URL(base, globalThis.location?.href)));
      if (!response.ok) throw new BundleError(`cannot fetch ${base}${name}: HTTP ${response.status}`);
      return new Uint8Array(await response.arrayBuffer());
    },
  };
}

/** Load the predictor of a bundle at `baseUrl` with onnxruntime-web's `ort`. */
export async function load(baseUrl, ort, options = {}) {
  return loadPredictor(url(baseUrl), ort, options);
}
