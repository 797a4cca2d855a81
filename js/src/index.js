// bowgram for JavaScript: run a bowgram bundle (language identification, next word) on
// onnxruntime-node or onnxruntime-web. The same code on both; only the file source and the
// onnxruntime module differ (see node.js and web.js).
export { loadPredictor, readExamples } from './bundle.js';
export { LanguageIdentifier, UNDETERMINED } from './langid.js';
export { NextWordPredictor, Writer } from './nextword.js';
export { Featurizer } from './featurizer.js';
export { Tokenizer } from './tokenizer.js';
export { BundleError, InputError } from './errors.js';
export { FORMAT_VERSION } from './manifest.js';
export { UNICODE_VERSION, foldText, casefold } from './unicode.js';
