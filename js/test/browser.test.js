// The demo page in headless Chromium: served from 127.0.0.1 as static files, typed into, and its
// answers read back. Skipped when no Chromium is installed, unless BOWGRAM_REQUIRE_BROWSER=1 (CI).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';
import { serve } from '../tools/serve.js';

const ROOT = resolve(fileURLToPath(import.meta.url), '..', '..', '..');
const CHROMIUM = [process.env.CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => p && existsSync(p));
const required = process.env.BOWGRAM_REQUIRE_BROWSER === '1';

test('the browser page identifies the language and offers next words as one types', { skip: !CHROMIUM && !required && 'no Chromium installed' }, async () => {
  assert.ok(CHROMIUM, 'BOWGRAM_REQUIRE_BROWSER=1 but no Chromium found (apt-get install chromium)');
  const { default: puppeteer } = await import('puppeteer-core');
  const server = await serve(ROOT);
  const browser = await puppeteer.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] });
  try {
    const page = await browser.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.setViewport({ width: 800, height: 480 });
    await page.goto(`http://127.0.0.1:${server.address().port}/js/web/`);
    await page.waitForFunction(() => document.getElementById('status').textContent !== 'loading the models…', { timeout: 60_000 });
    assert.equal(await page.$eval('#status', (e) => e.textContent), 'ready', errors.join('; '));
    await page.type('#text', '¿Dónde está la biblioteca?');
    await page.waitForFunction(() => document.getElementById('language').dataset.label === 'es', { timeout: 10_000 });
    await page.$eval('#text', (e) => { e.value = ''; });
    await page.type('#text', 'Shall I compare thee to a');
    await page.waitForFunction(() => document.getElementById('language').dataset.label === 'en', { timeout: 10_000 });
    const words = await page.$eval('#next', (e) => e.dataset.words.split(' '));
    assert.equal(words.length, 5);
    for (const task of ['langid', 'nextword']) { // the browser's own normalize() and ours agree with Python
      const parity = JSON.parse(gunzipSync(readFileSync(resolve(ROOT, 'js', 'test', 'parity', `${task}.json.gz`))));
      const records = parity.records.slice(0, 300).map(({ text, units, ids }) => ({ text, units, ids }));
      const wrong = await page.evaluate((name, rs) => rs.filter((r) => JSON.stringify(window.bowgram[name].inputIds(r.text)) !== JSON.stringify(r.ids)
        || JSON.stringify(window.bowgram[name].units(r.text)) !== JSON.stringify(r.units)).map((r) => r.text), task, records);
      assert.deepEqual(wrong, [], `${task}: ids differ in the browser`);
    }
    if (process.env.BOWGRAM_SCREENSHOT) await page.screenshot({ path: process.env.BOWGRAM_SCREENSHOT });
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
    server.close();
  }
});
