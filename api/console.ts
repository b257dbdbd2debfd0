import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/**
 * The web console: static files built by `npm run build` (scripts/build-console.mjs),
 * served under /console by the API process. The files are public; every data
 * call the console makes carries the tenant's bearer token like any client.
 */

/** The console's only sources are this origin; no inline script or style, no framing. */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
};

interface Asset {
  type: string;
  body: Buffer;
  gzip: Buffer;
  /** Content-hashed names never change content: cache them for a year. */
  immutable: boolean;
}

/** dist/console of the installed package (the directory holding package.json). */
export function defaultConsoleDir(from = path.dirname(fileURLToPath(import.meta.url))): string {
  let dir = from;
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) return path.join(from, 'console');
    dir = parent;
  }
  return path.join(dir, 'dist', 'console');
}

function readAssets(dir: string): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  if (!fs.existsSync(path.join(dir, 'index.html'))) return assets;
  for (const entry of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const file = path.join(entry.parentPath, entry.name);
    const type = TYPES[path.extname(file)];
    if (type === undefined) continue;
    const body = fs.readFileSync(file);
    const name = path.relative(dir, file).split(path.sep).join('/');
    assets.set(name, { type, body, gzip: gzipSync(body), immutable: name.startsWith('assets/') });
  }
  return assets;
}

function accepts(request: FastifyRequest, encoding: string): boolean {
  const header = request.headers['accept-encoding'];
  return (
    typeof header === 'string' && header.split(',').some((part) => part.trim().startsWith(encoding))
  );
}

function sendAsset(request: FastifyRequest, reply: FastifyReply, asset: Asset): FastifyReply {
  reply
    .header('content-type', asset.type)
    .header('cache-control', asset.immutable ? 'public, max-age=31536000, immutable' : 'no-cache')
    .header('vary', 'accept-encoding');
  if (accepts(request, 'gzip')) return reply.header('content-encoding', 'gzip').send(asset.gzip);
  return reply.send(asset.body);
}

/**
 * Registers GET /console and /console/*: a known file is sent as built; any other
 * path below /console (a page of the console's own router) gets index.html, so
 * links to pages survive a reload. Files are read once, here, and kept in memory.
 */
export function registerConsole(
  app: FastifyInstance,
  dir: string,
  notBuilt: (reply: FastifyReply) => FastifyReply,
): { files: number } {
  const assets = readAssets(dir);
  const index = assets.get('index.html');
  app.addHook('onSend', async (request, reply) => {
    if (!request.url.startsWith('/console')) return;
    reply.header('content-security-policy', CONSOLE_CSP);
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'no-referrer');
  });
  const hidden = { schema: { hide: true } };
  app.get('/console', hidden, async (_request, reply) => reply.redirect('/console/', 308));
  app.get(
    '/console/*',
    hidden,
    async (request: FastifyRequest<{ Params: { '*': string } }>, reply) => {
      if (index === undefined) return notBuilt(reply);
      const name = request.params['*'];
      const asset = assets.get(name);
      if (asset) return sendAsset(request, reply, asset);
      // A missing script or stylesheet must fail as such, not as a page of HTML.
      if (name.startsWith('assets/')) return reply.callNotFound();
      return sendAsset(request, reply, index);
    },
  );
  return { files: assets.size };
}
