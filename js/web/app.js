// The demo page: both default bundles loaded from ../../artifacts/ (or ?bundles=URL), answers
// recomputed on every keystroke. Runs on onnxruntime-web's single-threaded WebAssembly build,
// so it needs no cross-origin isolation headers from the server.
import * as ort from 'onnxruntime-web';
import { load } from '../src/web.js';

ort.env.wasm.numThreads = 1;
ort.env.wasm.wasmPaths = new URL('../node_modules/onnxruntime-web/dist/', import.meta.url).href;

const base = new URLSearchParams(location.search).get('bundles') ?? new URL('../../artifacts/', import.meta.url).href;
const $ = (id) => document.getElementById(id);
const chips = (pairs) => pairs.map(([name, p]) => `<span class="chip"><b>${escape(name)}</b> ${p.toFixed(2)}</span>`).join('');
const escape = (s) => s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);

try {
  const [langid, nextword] = await Promise.all([
    load(`${base}langid`, ort, { precision: 'int8' }),
    load(`${base}nextword`, ort),
  ]);
  window.bowgram = { langid, nextword }; // for the console (and the browser test)
  let latest = 0;
  async function update() {
    const text = $('text').value, call = ++latest;
    const [languages, words] = await Promise.all([langid.predict(text, { k: 3 }), nextword.predict(text, { k: 5 })]);
    if (call !== latest) return; // a newer keystroke has answered already
    $('language').innerHTML = text.trim() ? chips(languages) : '';
    $('language').dataset.label = text.trim() ? languages[0][0] : '';
    $('next').innerHTML = chips(words);
    $('next').dataset.words = words.map(([w]) => w).join(' ');
  }
  $('text').addEventListener('input', update);
  await update();
  $('status').textContent = 'ready';
} catch (error) {
  $('status').textContent = `could not load the models: ${error.message}`;
}
