/**
 * The built commands, as `package.json` declares them: every test that
 * starts a command starts these files, never `src/` through tsx, so that what
 * is tested is what `npm install` builds and users run (`npm test` builds
 * first).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The project root (the folder of package.json). */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

const pkg = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string> };

function bin(name: string): string {
  const rel = pkg.bin[name];
  if (!rel) throw new Error(`package.json declares no bin named ${name}`);
  const file = path.join(REPO_ROOT, rel);
  if (!existsSync(file)) throw new Error(`${file} is missing: run \`npm run build\` (npm test builds first)`);
  return file;
}

/** dist/peer.js */
export const PEER_BIN = bin('peer');
/** dist/make-torrent.js */
export const MAKE_TORRENT_BIN = bin('make-torrent');

/** `process.execPath` arguments that run `peer ...args` from the build. */
export function peerCommand(args: readonly string[]): string[] {
  return [PEER_BIN, ...args];
}

/** `process.execPath` arguments that run `make-torrent ...args` from the build. */
export function makeTorrentCommand(args: readonly string[]): string[] {
  return [MAKE_TORRENT_BIN, ...args];
}
