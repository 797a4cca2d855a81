// Node: a bundle from a folder, run on onnxruntime-node.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadPredictor, readExamples } from './bundle.js';
import { BundleError } from './errors.js';

export * from './index.js';

/** The files of a bundle folder. */
export function folder(path) {
  return {
    where: path,
    async read(name) {
      try {
        return new Uint8Array(await readFile(join(path, name)));
      } catch (error) {
        throw new BundleError(`cannot read ${join(path, name)}: ${error.code ?? error.message}`);
      }
    },
  };
}

/** Load the predictor of a bundle folder. @param {string} path @param {{precision?: 'fp32'|'int8'}} options */
export async function load(path, options = {}) {
  const ort = await import('onnxruntime-node');
  return loadPredictor(folder(path), ort.default ?? ort, options);
}

export { readExamples };
