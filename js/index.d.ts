// Types for the bowgram JavaScript runtime (ES modules, no build step).
export type Precision = 'fp32' | 'int8';
export type Answer = [label: string, probability: number][];

export interface FileSource {
  where: string;
  read(name: string): Promise<Uint8Array>;
}

export interface LoadOptions {
  precision?: Precision;
  /** passed to ort.InferenceSession.create */
  sessionOptions?: object;
}

export type Codes = 'label' | 'iso639-1' | 'iso639-3' | 'flores';
export interface LangidOptions {
  k?: number;
  threshold?: number;
  languages?: string[] | null;
  /** answer each label as this code (from the bundle's languages.json) */
  codes?: Codes;
}

export declare class LanguageIdentifier {
  readonly task: 'langid';
  readonly labels: string[];
  /** Top-k [label, probability]; "und" for text without letters or below `threshold`. */
  /** What each label is (languages.json): name, ISO 639-1/639-3 codes, script, FLORES-200 code. */
  readonly languages: Map<string, Map<string, string>>;
  predict(text: string, options?: LangidOptions): Promise<Answer>;
  predict(texts: string[], options?: LangidOptions): Promise<Answer[]>;
  /** [start, end, label, probability] per segment (UTF-16 offsets). */
  segments(text: string, options?: { switchCost?: number; minWords?: number; codes?: Codes }): Promise<[number, number, string, number][]>;
  inputIds(text: string): number[];
  units(text: string): string[];
  run(idRows: number[][]): Promise<Float32Array[]>;
  /** The bundle's writer's cache (model.cache), or null. */
  readonly cache: { window: number; unigram: number; bigram: number } | null;
  /** A new writer: answers that adapt to what it is given to write. */
  writer(): Writer;
}

/** One user's writing (never shared): the model mixed with a cache of the words written. */
export declare class Writer {
  /** The written text up to its last space, and the word being typed after it. */
  readonly context: string;
  readonly typing: string;
  /** Append what the user typed (spaces included; a blank line ends a paragraph). */
  write(text: string): void;
  /** Completions of the word being typed, or after a space the next word. */
  predict(options?: { k?: number }): Promise<Answer>;
}

export declare class NextWordPredictor {
  readonly task: 'nextword';
  readonly contextSize: number;
  /** Top-k [word, probability]; `prefix` keeps only words starting with it. */
  predict(context: string, options?: { k?: number; prefix?: string | null }): Promise<Answer>;
  predict(contexts: string[], options?: { k?: number; prefix?: string | null }): Promise<Answer[]>;
  inputIds(text: string): number[];
  units(text: string): string[];
  run(idRows: number[][]): Promise<Float32Array[]>;
}

export type Predictor = LanguageIdentifier | NextWordPredictor;

export declare class BundleError extends Error {}
export declare class InputError extends Error {}
export declare const FORMAT_VERSION: number;
export declare const UNICODE_VERSION: string;
export declare const UNDETERMINED: 'und';
export declare function loadPredictor(source: FileSource, ort: object, options?: LoadOptions): Promise<Predictor>;
export declare function readExamples(source: FileSource): Promise<object>;
export declare function foldText(text: string, form: 'NFC' | 'NFD' | 'NFKC' | 'NFKD', casefold: boolean): string;
export declare function casefold(text: string): string;
