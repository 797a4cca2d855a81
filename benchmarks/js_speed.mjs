// One timed pass of the JavaScript runtime (run by benchmarks/js_runtime_speed.py, which
// alternates it with the Python runtime): reads {"bundle", "precision", "task", "batch",
// "texts"} as JSON on stdin, loads the bundle, warms up, times predict() over every text in
// batches of `batch`, and prints {"seconds", "texts"}.
import { load } from '../js/src/node.js';

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const job = JSON.parse(Buffer.concat(chunks).toString('utf8'));
const predictor = await load(job.bundle, { precision: job.precision, sessionOptions: { intraOpNumThreads: 1, interOpNumThreads: 1 } });
const options = job.task === 'langid' ? { k: 1 } : { k: 5 };
const run = async () => {
  for (let i = 0; i < job.texts.length; i += job.batch) {
    const batch = job.texts.slice(i, i + job.batch);
    await predictor.predict(job.batch === 1 ? batch[0] : batch, options);
  }
};
await predictor.predict(job.texts.slice(0, 64), options); // warm up
const start = process.hrtime.bigint();
await run();
const seconds = Number(process.hrtime.bigint() - start) / 1e9;
console.log(JSON.stringify({ seconds, texts: job.texts.length }));
