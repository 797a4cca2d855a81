// A bundle read through any file source (a folder in Node, a URL in the browser): the manifest,
// then each file it lists, checked against its size and SHA-256 before use.
import { BundleError } from './errors.js';
import { readManifest, MAX_MANIFEST_BYTES } from './manifest.js';
import { LanguageIdentifier } from './langid.js';
import { NextWordPredictor } from './nextword.js';

const PREDICTORS = { langid: LanguageIdentifier, nextword: NextWordPredictor };
const PRECISIONS = ['fp32', 'int8'];

async function sha256(bytes) {
  const digest = await globalThis.crypto.subtle.digest('SHA-256', bytes);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

async function readChecked(source, artifact) {
  const bytes = await source.read(artifact.path, artifact.size + 1); // a longer file fails below, unread past that
  if (bytes.byteLength > artifact.size + 1) throw new BundleError(`${source.where}/${artifact.path} is bigger than manifest.json says`);
  if (bytes.byteLength !== artifact.size || (await sha256(bytes)) !== artifact.sha256) {
    throw new BundleError(`${source.where}/${artifact.path} does not match its checksum in manifest.json (damaged or edited)`);
  }
  return bytes;
}

async function readManifestBytes(source) {
  const bytes = await source.read('manifest.json', MAX_MANIFEST_BYTES + 1);
  if (bytes.byteLength > MAX_MANIFEST_BYTES) throw new BundleError(`${source.where}/manifest.json is over ${MAX_MANIFEST_BYTES >> 20} MB: not a bundle's manifest`);
  return bytes;
}

function json(bytes, name) {
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    throw new BundleError(`${name} is not valid UTF-8 JSON`);
  }
}

/**
 * Load a bundle's predictor (LanguageIdentifier or NextWordPredictor, from the manifest's task).
 * @param {{read(name: string): Promise<Uint8Array>, where: string}} source the bundle's files
 * @param {object} ort onnxruntime-node or onnxruntime-web (only the session differs)
 * @param {{precision?: 'fp32'|'int8', sessionOptions?: object}} options
 */
export async function loadPredictor(source, ort, { precision = 'fp32', sessionOptions = {} } = {}) {
  if (!PRECISIONS.includes(precision)) throw new BundleError(`precision must be one of ${PRECISIONS}, got ${precision}`);
  const manifest = readManifest(json(await readManifestBytes(source), 'manifest.json'));
  const find = (format, p = 'fp32') => manifest.artifacts.find((a) => a.format === format && (a.precision ?? 'fp32') === p);
  const model = find('onnx', precision);
  if (!model) throw new BundleError(`${source.where} has no ${precision} ONNX model`);
  const files = { vocab: find('vocab'), labels: find('labels'), languages: find('languages') };
  if (!files.vocab || (manifest.task === 'langid' && !files.labels)) throw new BundleError(`${source.where}: manifest lists no vocab/labels file`);
  const bundle = {
    ...manifest,
    where: source.where,
    ort,
    vocab: json(await readChecked(source, files.vocab), files.vocab.path),
    labels: files.labels ? json(await readChecked(source, files.labels), files.labels.path) : null,
    languages: files.languages ? json(await readChecked(source, files.languages), files.languages.path) : null,
  };
  // int8 weights (DequantizeLinear on initializers) are folded to float32 once, at load
  const options = { ...sessionOptions, extra: { ...sessionOptions.extra, session: { disable_quant_qdq: '1', ...sessionOptions.extra?.session } } };
  const session = await ort.InferenceSession.create(await readChecked(source, model), options);
  return new PREDICTORS[manifest.task](bundle, session);
}

/** The bundle's test vectors (examples.json), checked against the manifest. */
export async function readExamples(source) {
  const manifest = readManifest(json(await readManifestBytes(source), 'manifest.json'));
  const artifact = manifest.artifacts.find((a) => a.format === 'examples');
  return json(await readChecked(source, artifact), artifact.path);
}
