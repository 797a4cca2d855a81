// Node: a bundle from a folder, run on onnxruntime-node.
import { open } from 'node:fs/promises';
import { constants } from 'node:fs';
import { join } from 'node:path';
import { loadPredictor, readExamples } from './bundle.js';
import { BundleError } from './errors.js';

export * from './index.js';

/** The files of a bundle folder: regular files only, never through a symlink (a bundle's file
 * cannot point out of it, nor be a pipe that never ends or a device that never stops), and at
 * most `limit` bytes of each, as the Python runtime reads them. */
export function folder(path) {
  return {
    where: path,
    async read(name, limit = Infinity) {
      const file = join(path, name);
      let handle;
      try {
        handle = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
        const info = await handle.stat();
        if (!info.isFile()) throw new BundleError(`${file} is not a regular file`);
        const size = Math.min(info.size, limit);
        const bytes = new Uint8Array(size);
        let done = 0;
        while (done < size) {
          const { bytesRead } = await handle.read(bytes, done, size - done, done);
          if (!bytesRead) break;
          done += bytesRead;
        }
        return bytes.subarray(0, done);
      } catch (error) {
        if (error instanceof BundleError) throw error;
        const why = error.code === 'ELOOP' ? 'a symlink (a bundle holds its own files)' : error.code ?? error.message;
        throw new BundleError(`cannot read ${file}: ${why}`);
      } finally {
        await handle?.close();
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
