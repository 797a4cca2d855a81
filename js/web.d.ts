export * from './index.js';
import type { FileSource, LoadOptions, Predictor } from './index.js';
/** The files of a bundle published at a folder URL. */
export declare function url(baseUrl: string): FileSource;
/** Load a bundle's predictor from a URL on onnxruntime-web (pass its `ort` module). */
export declare function load(baseUrl: string, ort: object, options?: LoadOptions): Promise<Predictor>;
