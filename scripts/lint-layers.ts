/**
 * The layer rule of DESIGN.md: in src/, dependencies point down the list of
 * layers, never up, and no two folders import each other (directly or round
 * a circle). This reads the import specifiers of every src file (static and
 * dynamic imports, `export ... from`, type-only imports too: a type import
 * couples the folders just as much), maps each to its layer, and reports:
 *
 * - an upward import (a file importing a layer above its own);
 * - a circle of folders (which an upward import always makes, but a folder
 *   missing from the list below could hide);
 * - a circle of files inside one folder (e.g. parse.ts <-> load.ts);
 * - a pure codec (STYLE.md habit 1) that reaches, through any chain of
 *   imports, a module doing I/O (`node:fs`, `node:net`, `node:dgram`, ...).
 *
 * `npm run lint:layers` prints each offence and exits 1 when there is one;
 * test/layers.test.ts runs the same check in `npm test`.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

/**
 * Top to bottom (DESIGN.md "Layout of src/"). A file may import its own
 * layer or any layer below it. The names are folders of src/, or a file at
 * the top of src/ (its path without `.ts`).
 */
export const LAYERS: readonly (readonly string[])[] = [
  ['peer', 'make-torrent'],
  ['cli'],
  ['api'],
  ['session'],
  ['discovery'],
  ['peer/'], // the folder src/peer/ (the file src/peer.ts is the executable above)
  ['picker'],
  ['storage'],
  ['tracker'],
  ['dht'],
  ['wire'],
  ['metainfo'],
  ['bencode'],
  ['util'],
  ['settings', 'errors', 'events', 'log', 'types'],
];

/** Codecs and pure policy (STYLE.md habit 1): bytes in, typed values out. Paths relative to src/; a trailing `/` is a folder. */
export const PURE: readonly string[] = [
  'wire/',
  'picker/',
  'bencode/',
  'metainfo/',
  'tracker/http-codec.ts',
  'tracker/http-scrape.ts',
  'tracker/udp-codec.ts',
  'dht/krpc.ts',
  'dht/bep44.ts',
];
/** The one metainfo file that reads from disk, kept apart so the parser stays pure. */
const PURE_EXCEPT: readonly string[] = ['metainfo/load.ts'];
/** Modules that own sockets, files, processes or threads. */
const IO_MODULE = /^(node:)?(fs|fs\/promises|net|dgram|http|https|http2|tls|child_process|worker_threads|cluster)$/;

export interface ImportEdge {
  /** Paths relative to src/, with `/` separators. */
  from: string;
  to: string;
  specifier: string;
  line: number;
}

export interface LayerReport {
  files: number;
  imports: number;
  upward: ImportEdge[];
  /** Each circle as its folders in import order, the first repeated at the end. */
  folderCycles: string[][];
  /** Circles of files within one folder, as file paths. */
  fileCycles: string[][];
  /** Pure files that reach an I/O module: the chain of files, then the module. */
  impure: { file: string; chain: string[]; module: string }[];
}

/** The unit a file belongs to: `peer/` for src/peer/*, `peer` for src/peer.ts, `session` for src/session/**. */
export function unitOf(rel: string): string {
  const parts = rel.split('/');
  if (parts.length === 1) return parts[0]!.replace(/\.ts$/, '');
  return parts[0] === 'peer' ? 'peer/' : parts[0]!;
}

function rankOf(unit: string): number {
  return LAYERS.findIndex((layer) => layer.includes(unit));
}

function listTs(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...listTs(p));
    else if (e.name.endsWith('.ts')) out.push(p);
  }
  return out.sort();
}

/** Imports of one file: relative ones resolved to paths relative to src/ (`.js` specifiers name `.ts` files), and package or builtin names. */
function importsOf(srcDir: string, file: string): { edges: ImportEdge[]; modules: string[] } {
  const text = readFileSync(file, 'utf8');
  const info = ts.preProcessFile(text, true, true);
  const from = relative(srcDir, file).split(sep).join('/');
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest);
  const edges: ImportEdge[] = [];
  const modules: string[] = [];
  for (const ref of info.importedFiles) {
    const spec = ref.fileName;
    if (!spec.startsWith('.')) {
      modules.push(spec);
      continue;
    }
    const target = resolve(dirname(file), spec).replace(/\.js$/, '.ts');
    const to = relative(srcDir, target).split(sep).join('/');
    const line = ts.getLineAndCharacterOfPosition(source, ref.pos).line + 1;
    edges.push({ from, to, specifier: spec, line });
  }
  return { edges, modules };
}

/** Elementary circles of a small directed graph, each reported once (from its smallest node). */
function cycles(graph: Map<string, Set<string>>): string[][] {
  const out: string[][] = [];
  const nodes = [...graph.keys()].sort();
  for (const start of nodes) {
    const path = [start];
    const walk = (node: string): void => {
      for (const next of [...(graph.get(node) ?? [])].sort()) {
        if (next === start) out.push([...path, start]);
        else if (next > start && !path.includes(next)) {
          path.push(next);
          walk(next);
          path.pop();
        }
      }
    };
    walk(start);
  }
  return out;
}

export function checkLayers(srcDir: string): LayerReport {
  const files = listTs(srcDir).filter((f) => !f.endsWith('.d.ts'));
  const upward: ImportEdge[] = [];
  const folderGraph = new Map<string, Set<string>>();
  const fileGraphs = new Map<string, Map<string, Set<string>>>();
  const fileGraph = new Map<string, string[]>();
  const ioOf = new Map<string, string>();
  let imports = 0;
  for (const file of files) {
    const { edges, modules } = importsOf(srcDir, file);
    const rel = relative(srcDir, file).split(sep).join('/');
    fileGraph.set(rel, edges.map((e) => e.to));
    const io = modules.find((m) => IO_MODULE.test(m));
    if (io) ioOf.set(rel, io);
    for (const e of edges) {
      imports++;
      const a = unitOf(e.from);
      const b = unitOf(e.to);
      if (a === b) {
        const g = fileGraphs.get(a) ?? new Map<string, Set<string>>();
        fileGraphs.set(a, g);
        const set = g.get(e.from) ?? new Set<string>();
        g.set(e.from, set.add(e.to));
        continue;
      }
      const ra = rankOf(a);
      const rb = rankOf(b);
      if (ra < 0 || rb < 0) throw new Error(`src/${ra < 0 ? e.from : e.to} is in no layer: add "${ra < 0 ? a : b}" to LAYERS in scripts/lint-layers.ts`);
      if (rb < ra) upward.push(e);
      const set = folderGraph.get(a) ?? new Set<string>();
      folderGraph.set(a, set.add(b));
    }
  }
  // Units of one layer (the leaves) may import each other; a circle among them is still a circle.
  const fileCycles = [...fileGraphs.values()].flatMap((g) => cycles(g));
  const impure: LayerReport['impure'] = [];
  for (const file of fileGraph.keys()) {
    if (!PURE.some((p) => (p.endsWith('/') ? file.startsWith(p) : file === p)) || PURE_EXCEPT.includes(file)) continue;
    // Breadth first: the shortest chain to an I/O module.
    const via = new Map<string, string | undefined>([[file, undefined]]);
    const queue = [file];
    for (let at = queue.shift(); at !== undefined; at = queue.shift()) {
      const io = ioOf.get(at);
      if (io) {
        const chain: string[] = [];
        for (let f: string | undefined = at; f !== undefined; f = via.get(f)) chain.unshift(f);
        impure.push({ file, chain, module: io });
        break;
      }
      for (const next of fileGraph.get(at) ?? []) {
        if (via.has(next)) continue;
        via.set(next, at);
        queue.push(next);
      }
    }
  }
  return { files: files.length, imports, upward, folderCycles: cycles(folderGraph), fileCycles, impure };
}

export function formatReport(r: LayerReport): string[] {
  const lines: string[] = [];
  for (const e of r.upward) {
    lines.push(`upward import: src/${e.from}:${e.line} imports '${e.specifier}' (${unitOf(e.from)} -> ${unitOf(e.to)}, a layer above it)`);
  }
  for (const c of r.folderCycles) lines.push(`folder circle: ${c.join(' -> ')}`);
  for (const c of r.fileCycles) lines.push(`file circle: ${c.map((f) => `src/${f}`).join(' -> ')}`);
  for (const i of r.impure) lines.push(`impure codec: src/${i.file} reaches '${i.module}' (${i.chain.map((f) => `src/${f}`).join(' -> ')})`);
  return lines;
}

const isMain = process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  const srcDir = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'src');
  const report = checkLayers(srcDir);
  const lines = formatReport(report);
  for (const l of lines) console.error(l);
  console.error(`lint:layers: ${report.files} files, ${report.imports} relative imports, ${lines.length} offence${lines.length === 1 ? '' : 's'}`);
  process.exit(lines.length ? 1 : 0);
}
