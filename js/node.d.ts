export * from './index.js';
import type { FileSource, LoadOptions, Predictor } from './index.js';
/** The files of a bundle folder. */
export declare function folder(path: string): FileSource;
/** Load a bundle folder's predictor on onnxruntime-node. */
export declare function load(path: string, options?: LoadOptions): Promise<Predictor>;
