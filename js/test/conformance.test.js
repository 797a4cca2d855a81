// Conformance: this package reproduces the Python runtime on every bundle's examples.json and on
// the parity files the Python runtime wrote (tools/write_parity.py): words/tokens and ids exactly,
// outputs within the tolerance the bundle states, fp32 and int8 alike.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { dirname, join, resolve } from 'node:path';
import { load, folder, readExamples, loadPredictor, BundleError, InputError } from '../src/node.js';
import * as ort from 'onnxruntime-node';
import { Featurizer } from '../src/featurizer.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '..', '..');
const BUNDLES = [
  join(ROOT, 'artifacts', 'langid'),
  join(ROOT, 'artifacts', 'nextword'),
  join(ROOT, 'tests', 'bundles', 'langid'),
  join(ROOT, 'tests', 'bundles', 'nextword'),
  ...(process.env.BOWGRAM_BUNDLES ?? '').split(':').filter(Boolean), // e.g. freshly trained ones (.ci/run)
];
const BATCH = 64;

function precisions(path) {
  const manifest = JSON.parse(readFileSync(join(path, 'manifest.json'), 'utf8'));
  return manifest.artifacts.some((a) => a.format === 'onnx' && a.precision === 'int8') ? ['fp32', 'int8'] : ['fp32'];
}

function assertClose(actual, expected, { atol, rtol }, what) {
  assert.ok(Math.abs(actual - expected) <= atol + rtol * Math.abs(expected), `${what}: ${actual} vs ${expected}`);
}

/** Check records {text, units, ids, <key>: [[index, value], ...]} against a predictor. */
async function checkRecords(predictor, records, key, tolerance, where) {
  for (const r of records) {
    assert.deepEqual(predictor.units(r.text), r.units, `${where}: words/tokens of ${JSON.stringify(r.text)}`);
    assert.deepEqual(predictor.inputIds(r.text), r.ids, `${where}: ids of ${JSON.stringify(r.text)}`);
  }
  const withIds = records.filter((r) => r.ids.length);
  for (let start = 0; start < withIds.length; start += BATCH) {
    const chunk = withIds.slice(start, start + BATCH);
    const outputs = await predictor.run(chunk.map((r) => r.ids));
    chunk.forEach((r, i) => {
      for (const [index, value] of r[key]) assertClose(outputs[i][index], value, tolerance, `${where}: ${JSON.stringify(r.text)} output ${index}`);
    });
  }
  if (predictor.labels) {
    for (const r of records.filter((x) => !x.ids.length)) assert.deepEqual(await predictor.predict(r.text), [['und', 1]]);
  }
  return withIds.length;
}

for (const path of BUNDLES.filter((p) => existsSync(join(p, 'manifest.json')))) {
  for (const precision of precisions(path)) {
    test(`examples.json of ${path.replace(ROOT + '/', '')} (${precision})`, async () => {
      const predictor = await load(path, { precision });
      const examples = await readExamples(folder(path));
      const records = examples.examples.map((e) => ({
        ...e,
        expected: (precision === 'int8' ? e.top_int8 : e.top).map(([index, , value]) => [index, value]),
      }));
      const checked = await checkRecords(predictor, records, 'expected', examples.tolerance, path);
      assert.ok(checked > 0);
    });
  }
}

// a parity file holds for the bundle it was written from (it records that bundle's ONNX checksums)
function readParity(task) {
  const parity = JSON.parse(gunzipSync(readFileSync(join(HERE, 'parity', `${task}.json.gz`))).toString('utf8'));
  const manifest = JSON.parse(readFileSync(join(ROOT, 'artifacts', parity.bundle, 'manifest.json'), 'utf8'));
  const now = Object.fromEntries(manifest.artifacts.filter((a) => a.format === 'onnx').map((a) => [a.path, a.sha256]));
  assert.deepEqual(now, parity.sha256, `test/parity/${task}.json.gz was written from another artifacts/${parity.bundle}: `
    + 'after replacing a default bundle (bowgram build --out artifacts), run python js/tools/write_parity.py');
  return parity;
}

for (const task of ['langid', 'nextword']) {
  for (const precision of ['fp32', 'int8']) {
    test(`parity with the Python runtime: ${task} (${precision})`, async () => {
      const parity = readParity(task);
      const predictor = await load(join(ROOT, 'artifacts', parity.bundle), { precision });
      const checked = await checkRecords(predictor, parity.records, precision, parity.tolerance, `${task} parity`);
      assert.ok(parity.records.length >= 1000 && checked > 0);
    });
  }
  test(`predict() answers as the Python API: ${task}`, async () => {
    const parity = readParity(task);
    const predictor = await load(join(ROOT, 'artifacts', parity.bundle));
    for (const call of parity.answers) {
      const got = await predictor.predict(call.texts, call.options);
      call.expected.forEach((expected, i) => {
        const where = `${JSON.stringify(call.options)} ${JSON.stringify(call.texts[i])}`;
        assert.deepEqual(got[i].map(([label]) => label), expected.map(([label]) => label), where);
        expected.forEach(([, p], j) => assert.ok(Math.abs(got[i][j][1] - p) <= 1e-4 * Math.max(p, 1e-3) + 1e-6, `${where}: ${got[i][j][1]} vs ${p}`));
      });
    }
  });
}

test('int8 answers do not depend on the rest of the batch', async () => {
  const parity = readParity('langid');
  const predictor = await load(join(ROOT, 'artifacts', 'langid'), { precision: 'int8' });
  const texts = parity.records.map((r) => r.text);
  const together = await predictor.predict(texts);
  for (let i = 0; i < texts.length; i += 7) {
    const [[label, p]] = await predictor.predict(texts[i]);
    assert.equal(label, together[i][0][0], texts[i]);
    // padding changes float sums only: the parity tolerance above (1e-5 absolute failed by 1.03e-5 on a p of 0.84)
    assert.ok(Math.abs(p - together[i][0][1]) <= 1e-4 * Math.max(p, 1e-3) + 1e-6, texts[i]);
  }
});

function edited(path, change) {
  const source = folder(path);
  return {
    where: path,
    async read(name) {
      if (name !== 'manifest.json') return source.read(name);
      const manifest = JSON.parse(new TextDecoder().decode(await source.read(name)));
      change(manifest);
      return new TextEncoder().encode(JSON.stringify(manifest));
    },
  };
}

test('a manifest this runtime does not understand is refused', async () => {
  const path = join(ROOT, 'artifacts', 'langid');
  const cases = [
    [(m) => { m.format_version = 4; }, /newer than this runtime reads/],
    [(m) => { m.format_version = 2; }, /predates the portable recipe/],
    [(m) => { m.featurizer.normalization = 'NFKC_CF'; }, /normalization/],
    [(m) => { m.featurizer.strip_accents = true; }, /unknown fields/],
    [(m) => { m.featurizer.unicode_version = '15.1.0'; }, /Unicode 14\.0\.0 tables/],
    [(m) => { m.featurizer.max_n = 9; }, /n-grams need/],
    [(m) => { m.task = 'ner'; }, /not one this runtime serves/],
    [(m) => { m.artifacts[0].sha256 = '0'.repeat(64); }, /checksum/],
  ];
  for (const [change, message] of cases) {
    await assert.rejects(loadPredictor(edited(path, change), ort), (e) => e instanceof BundleError && message.test(e.message));
  }
  const nextword = join(ROOT, 'artifacts', 'nextword');
  await assert.rejects(loadPredictor(edited(nextword, (m) => { m.featurizer.pattern = '\\w+'; }), ort), /pattern/);
});

const LANGUAGE_CASES = JSON.parse(readFileSync(join(HERE, 'cases', 'languages.json'), 'utf8'));

async function sha256Hex(bytes) {
  const digest = new Uint8Array(await globalThis.crypto.subtle.digest('SHA-256', bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

// the tutorial bundle with `languages` as its languages.json, listed in its manifest, and with `labels`
// as its labels.json if given (shared cases)
function withLanguages(languages, labels = null) {
  const path = join(ROOT, 'tests', 'bundles', 'langid');
  const source = folder(path);
  const bytes = new TextEncoder().encode(JSON.stringify(languages));
  const labelBytes = labels && new TextEncoder().encode(JSON.stringify(labels));
  return {
    where: path,
    async read(name) {
      if (name === 'languages.json') return bytes;
      if (name === 'labels.json' && labelBytes) return labelBytes;
      if (name !== 'manifest.json') return source.read(name);
      const manifest = JSON.parse(new TextDecoder().decode(await source.read(name)));
      manifest.artifacts.push({ path: 'languages.json', format: 'languages', sha256: await sha256Hex(bytes), size: bytes.byteLength, precision: 'fp32' });
      if (labelBytes) {
        const entry = manifest.artifacts.find((a) => a.path === 'labels.json');
        Object.assign(entry, { sha256: await sha256Hex(labelBytes), size: labelBytes.byteLength });
      }
      return new TextEncoder().encode(JSON.stringify(manifest));
    },
  };
}

test('languages.json: answers in each kind of code, and the bundles the Python runtime refuses', async () => {
  const { text, valid, refused, missing_code: missing } = LANGUAGE_CASES;
  const lid = await loadPredictor(withLanguages(valid.languages), ort);
  for (const [codes, expected] of Object.entries(valid.answers)) {
    assert.equal((await lid.predict(text, { codes }))[0][0], expected, codes);
    assert.deepEqual(await lid.predict('12345', { codes }), [['und', 1]]);
    const field = { 'iso639-1': 'iso639_1', 'iso639-3': 'iso639_3', flores: 'flores' }[codes];
    const mapped = field ? Object.values(valid.languages).map((e) => e[field]) : Object.keys(valid.languages);
    for (const [, , label] of await lid.segments(`${text} and it is lost on me`, { codes })) assert.ok(mapped.includes(label), label);
  }
  for (const { case: name, languages, message } of refused) {
    await assert.rejects(loadPredictor(withLanguages(languages), ort), (e) => e instanceof BundleError && e.message.includes(message), name);
  }
  const partial = await loadPredictor(withLanguages(missing.languages), ort);
  await assert.rejects(partial.predict(text, { codes: missing.codes }), (e) => e instanceof InputError && e.message.includes(missing.message));
  await assert.rejects((await load(join(ROOT, 'tests', 'bundles', 'langid'))).predict(text, { codes: 'flores' }), /no languages\.json/);
});

test('a none-of-these class (label und) lowers p and is never answered, as in the Python runtime', async () => {
  const { labels, languages, answers, refused_languages: refusedLanguages } = LANGUAGE_CASES.none_of_these;
  const lid = await loadPredictor(withLanguages(languages, labels), ort);
  for (const { text, k, threshold, codes, answer } of answers) {
    const got = await lid.predict(text, { k, threshold, codes });
    assert.deepEqual(got.map(([label]) => label), answer.map(([label]) => label), text);
    got.forEach(([, p], i) => assert.ok(Math.abs(p - answer[i][1]) <= 1e-4 * answer[i][1], `${text}: ${p}`));
  }
  await assert.rejects(lid.predict(answers[0].text, { languages: refusedLanguages }), (e) => e instanceof InputError && /unknown language/.test(e.message));
  const mixed = answers.map((a) => a.text).join(' ');
  assert.deepEqual([...new Set((await lid.segments(mixed)).map((s) => s[2]))], ['ENGLISH']); // "none of these" is no segment
});

test('an option this runtime does not know is refused, not ignored', async () => {
  const lid = await load(join(ROOT, 'tests', 'bundles', 'langid'));
  await assert.rejects(lid.predict('hola', { only: ['SPANISH'] }), (e) => e instanceof InputError && /unknown option\(s\) only/.test(e.message));
  await assert.rejects(lid.segments('hola', { switch_cost: 3 }), InputError);
  const lm = await load(join(ROOT, 'tests', 'bundles', 'nextword'));
  await assert.rejects(lm.predict('when forty', { topK: 3 }), InputError);
  assert.equal((await lid.predict('Yo creo que si', { languages: ['SPANISH'] }))[0][0], 'SPANISH');
});

test('segments() answers as the Python API on mixed-language texts', async () => {
  const parity = readParity('segments');
  const lid = await load(join(ROOT, 'artifacts', parity.bundle));
  let same = 0;
  for (const { text, segments } of parity.records) {
    const codePoints = Array.from(text);
    const utf16 = (k) => codePoints.slice(0, k).join('').length; // Python offsets count code points
    const expected = segments.map(([a, b, label]) => [utf16(a), utf16(b), label]);
    const got = (await lid.segments(text)).map(([a, b, label]) => [a, b, label]);
    if (JSON.stringify(got) === JSON.stringify(expected)) same++;
  }
  // float sums of word scores from two onnxruntime builds may tip a near-tie: all but a handful agree
  assert.ok(same >= 0.99 * parity.records.length, `${same} of ${parity.records.length} segmentations agree`);
});

const REFUSALS = JSON.parse(readFileSync(join(HERE, 'cases', 'refusals.json'), 'utf8'));

/** A tutorial bundle with a refusal case's edits applied in memory (tests/test_surfaces.py does the same on disk). */
function withEdits(task, edits) {
  const path = join(ROOT, 'tests', 'bundles', task);
  const source = folder(path);
  const files = new Map();
  const encode = (value) => new TextEncoder().encode(JSON.stringify(value));
  const sha256 = async (bytes) => Array.from(new Uint8Array(await globalThis.crypto.subtle.digest('SHA-256', bytes)), (b) => b.toString(16).padStart(2, '0')).join('');
  return {
    where: path,
    async read(name, limit) {
      if (!files.size) {
        for (const edit of edits) {
          const data = files.get(edit.file) ?? JSON.parse(new TextDecoder().decode(await source.read(edit.file)));
          let value = edit.value;
          if (edit.path.length) {
            let node = data;
            for (const key of edit.path.slice(0, -1)) node = node[key];
            // an own property, whatever its name ("__proto__" included), as JSON.parse makes it
            Object.defineProperty(node, edit.path[edit.path.length - 1], { value, enumerable: true, writable: true, configurable: true });
            value = data;
          }
          files.set(edit.file, value);
        }
        const manifest = files.get('manifest.json') ?? JSON.parse(new TextDecoder().decode(await source.read('manifest.json')));
        for (const [file, value] of files) {
          if (file === 'manifest.json') continue;
          const artifact = manifest.artifacts.find((a) => a.path === file);
          artifact.sha256 = await sha256(encode(value));
          artifact.size = encode(value).byteLength;
        }
        files.set('manifest.json', manifest);
      }
      return files.has(name) ? encode(files.get(name)) : source.read(name, limit);
    },
  };
}

test('the bundles the Python runtime refuses are refused here too (shared cases)', async () => {
  for (const { case: name, bundle, edits } of REFUSALS.cases) {
    await assert.rejects(loadPredictor(withEdits(bundle, edits), ort), (e) => e instanceof BundleError, name);
  }
});

test('a bundle folder holds its own regular files: no symlink out, no pipe, no endless file', async () => {
  const { mkdtempSync, cpSync, rmSync, symlinkSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { execFileSync } = await import('node:child_process');
  const work = mkdtempSync(join(tmpdir(), 'bowgram-js-'));
  try {
    const copy = (name) => { const dest = join(work, name); cpSync(join(ROOT, 'tests', 'bundles', 'langid'), dest, { recursive: true }); return dest; };
    const linked = copy('linked');
    writeFileSync(join(work, 'outside.json'), '{}');
    rmSync(join(linked, 'vocab.json'));
    symlinkSync(join(work, 'outside.json'), join(linked, 'vocab.json'));
    await assert.rejects(load(linked), (e) => e instanceof BundleError && /symlink/.test(e.message));
    const piped = copy('piped');
    rmSync(join(piped, 'manifest.json'));
    execFileSync('mkfifo', [join(piped, 'manifest.json')]);
    await assert.rejects(load(piped), (e) => e instanceof BundleError && /not a regular file/.test(e.message)); // and no hang
    const huge = copy('huge');
    writeFileSync(join(huge, 'manifest.json'), `{"pad": "${'x'.repeat(17 << 20)}"}`);
    await assert.rejects(load(huge), (e) => e instanceof BundleError && /over 16 MB/.test(e.message));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});

test('segments() read a long text a window at a time and keep a bounded word cache', async () => {
  const lid = await load(join(ROOT, 'tests', 'bundles', 'langid'));
  const sentence = 'it is lost on me ';
  const text = sentence.repeat(Math.ceil(250_000 / sentence.length));
  const segments = await lid.segments(text);
  assert.equal(segments.length, 1); // one language, across three windows
  assert.deepEqual(segments[0].slice(0, 3), [0, text.length - 1, 'ENGLISH']);
  await lid.segments(Array.from({ length: 3000 }, (_, i) => `w${'a'.repeat(i % 90)}x${i}`).join(' '));
  assert.ok(lid.scoreCache.size <= Math.max(1024, (8 << 20) / (8 * lid.labels.length)));
  assert.ok([...lid.scoreCache.keys()].every((w) => w.length <= 64));
  await assert.rejects(lid.segments('it is lost', { switchCost: NaN }), InputError);
});

test('binary data read as text answers und, as in the Python runtime (shared cases)', async () => {
  const { cases } = JSON.parse(readFileSync(join(HERE, 'cases', 'not_text.json'), 'utf8'));
  const lid = await load(join(ROOT, 'artifacts', 'langid'));
  const answers = await lid.predict(cases.map((c) => c.text));
  cases.forEach((c, i) => assert.equal(answers[i][0][0] === 'und', c.not_text || !c.text, JSON.stringify(c.text)));
});

test('drop_format and known_letters give the Python runtime\'s words and ids (shared cases)', () => {
  const data = JSON.parse(readFileSync(join(HERE, 'cases', 'featurizer_rules.json'), 'utf8'));
  const featurizer = new Featurizer(data.featurizer, new Map(Object.entries(data.vocab)));
  for (const { text, words, ids } of data.cases) {
    assert.deepEqual(featurizer.words(text), words, JSON.stringify(text));
    assert.deepEqual(featurizer.ids(text), ids, JSON.stringify(text));
  }
});

test('a writer answers as the Python runtime\'s writer (shared cases)', async () => {
  const data = JSON.parse(readFileSync(join(HERE, 'cases', 'writer.json'), 'utf8'));
  const source = edited(join(ROOT, 'tests', 'bundles', 'nextword'), (manifest) => { manifest.model.cache = data.cache; });
  const lm = await loadPredictor(source, ort);
  assert.deepEqual(lm.cache, data.cache);
  for (const { writes, answers } of data.cases) {
    const writer = lm.writer();
    for (let i = 0; i < writes.length; i++) {
      writer.write(writes[i]);
      const got = await writer.predict({ k: 5 });
      assert.deepEqual(got.map(([w]) => w), answers[i].map(([w]) => w), JSON.stringify(writes.slice(0, i + 1)));
      got.forEach(([, p], j) => assertClose(p, answers[i][j][1], { atol: 1e-6, rtol: 0 }, `answer ${j}`));
    }
  }
});
