// A static file server for trying the browser page: `node js/tools/serve.js` serves the
// repository on http://127.0.0.1:8000/ (open /js/web/). Files only, nothing computed server-side.
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.mjs': 'text/javascript', '.css': 'text/css',
  '.json': 'application/json', '.wasm': 'application/wasm', '.onnx': 'application/octet-stream', '.png': 'image/png',
};

/** Serve `root` on 127.0.0.1:`port` (0: any free port); resolves to the listening server. */
export function serve(root, port = 0) {
  const base = resolve(root);
  const server = createServer(async (request, response) => {
    let path = normalize(join(base, decodeURIComponent(new URL(request.url, 'http://x').pathname)));
    if (path !== base && !path.startsWith(base + sep)) return response.writeHead(403).end();
    if (path.endsWith(sep)) path = join(path, 'index.html');
    try {
      const body = await readFile(path);
      response.writeHead(200, { 'content-type': TYPES[extname(path)] ?? 'application/octet-stream' }).end(body);
    } catch {
      response.writeHead(404).end();
    }
  });
  return new Promise((done) => server.listen(port, '127.0.0.1', () => done(server)));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const root = resolve(fileURLToPath(import.meta.url), '..', '..', '..');
  const server = await serve(root, Number(process.env.PORT ?? 8000));
  console.log(`serving ${root} on http://127.0.0.1:${server.address().port}/js/web/`);
}
