import test from 'ava';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkLayers, formatReport } from '../scripts/lint-layers.js';

const SRC = join(dirname(fileURLToPath(import.meta.url)), '..', 'src');

test('src/ imports only down the layers of DESIGN.md, with no circle and pure codecs', (t) => {
  const report = checkLayers(SRC);
  t.true(report.files > 50);
  t.deepEqual(formatReport(report), []);
});

/** A throwaway src/ tree: path -> file text. */
function tree(t: { teardown(fn: () => void): void }, files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'layers-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

test('the checker reports an upward import, a folder circle, a file circle and an impure codec', (t) => {
  const dir = tree(t, {
    'wire/a.ts': "import type { X } from '../discovery/x.js';\nexport type Y = X;\n",
    'discovery/x.ts': "import type { Y } from '../wire/a.js';\nexport type X = number; export type Z = Y;\n",
    'metainfo/parse.ts': "export { load } from './load.js';\n",
    'metainfo/load.ts': "import { readFile } from 'node:fs/promises';\nimport './parse.js';\nexport const load = readFile;\n",
    'util/ok.ts': "import { E } from '../errors.js';\nexport const ok = E;\n",
    'errors.ts': 'export const E = 1;\n',
  });
  const lines = formatReport(checkLayers(dir));
  t.deepEqual(lines, [
    "upward import: src/wire/a.ts:1 imports '../discovery/x.js' (wire -> discovery, a layer above it)",
    'folder circle: discovery -> wire -> discovery',
    'file circle: src/metainfo/load.ts -> src/metainfo/parse.ts -> src/metainfo/load.ts',
    "impure codec: src/metainfo/parse.ts reaches 'node:fs/promises' (src/metainfo/parse.ts -> src/metainfo/load.ts)",
  ]);
});

test('the checker refuses a folder that is in no layer', (t) => {
  const dir = tree(t, { 'mystery/a.ts': "import '../util/b.js';\n", 'util/b.ts': 'export {};\n' });
  t.throws(() => checkLayers(dir), { message: /src\/mystery\/a\.ts is in no layer/ });
});
