/**
 * The layering of src/ (README "Architecture"), checked from the import statements of every
 * src/**\/*.ts file: no import cycle between files, no import from a lower layer to a higher one,
 * and the backend reached only through its entry points.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(root, 'src');

/** Lowest first: a file may import its own layer and the ones below. `backend` stands beside them. */
const LAYERS: readonly (readonly string[])[] = [
  ['util'], // src/util and src/errors.ts
  ['profile', 'data', 'config', 'runs', 'layout-io'],
  ['quant', 'model', 'detector'],
  ['train'],
  ['experiments'],
  ['report'],
  ['pipeline'],
  ['cli'],
];
const BACKEND = 'backend';
/**
 * The only backend files other layers may import: the backend starter, and the neutral modules of
 * names only (kernel names, flag names, backend names), no backend code.
 */
const BACKEND_ENTRY_POINTS = ['backend/index.ts', 'backend/kernel-names.ts', 'backend/flags.ts', 'backend/names.ts'];

type Graph = Map<string, string[]>;

/** Every .ts file under `dir`, as paths relative to src/ with forward slashes. */
function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(full);
    return e.name.endsWith('.ts') ? [relative(src, full).split('\\').join('/')] : [];
  });
}

/** Relative import specifiers of a file: static imports, re-exports, side-effect and literal dynamic imports, type-only included. */
export function importSpecifiers(text: string): string[] {
  const specs: string[] = [];
  const patterns = [/\b(?:import|export)\s[^'"]*?\sfrom\s*['"]([^'"]+)['"]/g, /\bimport\s*['"]([^'"]+)['"]/g, /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g];
  for (const re of patterns) for (const m of text.matchAll(re)) if (m[1]!.startsWith('.')) specs.push(m[1]!);
  return specs;
}

/** The import graph of src/: file → files it imports (paths relative to src/). */
function importGraph(): Graph {
  const graph: Graph = new Map();
  for (const file of sourceFiles(src)) {
    const text = readFileSync(join(src, file), 'utf8');
    const targets = importSpecifiers(text).map((spec) => {
      const target = relative(src, resolve(join(src, dirname(file)), spec)).split('\\').join('/');
      return target.replace(/\.js$/, '.ts');
    });
    graph.set(file, [...new Set(targets)]);
  }
  return graph;
}

/** The layer (top folder under src/) of a file; src/errors.ts belongs to util. */
export function layerOf(file: string): string {
  return file.includes('/') ? file.slice(0, file.indexOf('/')) : 'util';
}

function rankOf(layer: string): number {
  return LAYERS.findIndex((names) => names.includes(layer));
}

/** Groups of files that import each other in a circle (Tarjan's strongly connected components of size > 1, or a self-import). */
export function importCycles(graph: Graph): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const visit = (v: string) => {
    index.set(v, counter);
    low.set(v, counter++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const group: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        group.push(w);
      } while (w !== v);
      if (group.length > 1 || (graph.get(v) ?? []).includes(v)) cycles.push(group.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return cycles;
}

/** Imports from a lower layer to a higher one (the backend excluded: see backendViolations). */
export function upwardImports(graph: Graph): string[] {
  const out: string[] = [];
  for (const [from, targets] of graph) {
    const a = layerOf(from);
    if (a === BACKEND) continue;
    for (const to of targets) {
      const b = layerOf(to);
      if (b !== BACKEND && rankOf(b) > rankOf(a)) out.push(`${from} (${a}) imports ${to} (${b})`);
    }
  }
  return out;
}

/** Imports into the backend other than its entry points, and backend imports of anything above util. */
export function backendViolations(graph: Graph): string[] {
  const out: string[] = [];
  for (const [from, targets] of graph) {
    const inBackend = layerOf(from) === BACKEND;
    for (const to of targets) {
      const toBackend = layerOf(to) === BACKEND;
      if (!inBackend && toBackend && !BACKEND_ENTRY_POINTS.includes(to)) out.push(`${from} imports ${to} (not a backend entry point)`);
      if (inBackend && !toBackend && layerOf(to) !== 'util') out.push(`${from} imports ${to} (the backend may use util only)`);
    }
  }
  return out;
}

const graph = importGraph();

test('the checks find what they look for (a made-up graph with a circle, an upward import and a backend shortcut)', () => {
  const fake: Graph = new Map([
    ['quant/a.ts', ['quant/b.ts', 'backend/webgpu/x.ts']],
    ['quant/b.ts', ['quant/a.ts', 'util/rng.ts', 'train/t.ts']],
    ['train/t.ts', ['backend/kernel-names.ts']],
    ['backend/webgpu/x.ts', ['util/rng.ts', 'model/m.ts']],
    ['util/rng.ts', []],
  ]);
  assert.equal(importCycles(fake), [['quant/a.ts', 'quant/b.ts']]);
  assert.equal(upwardImports(fake), ['quant/b.ts (quant) imports train/t.ts (train)']);
  assert.equal(backendViolations(fake), [
    'quant/a.ts imports backend/webgpu/x.ts (not a backend entry point)',
    'backend/webgpu/x.ts imports model/m.ts (the backend may use util only)',
  ]);
  assert.equal(importSpecifiers(`import type { A } from './a.js';\nexport { b } from "../b.js";\nimport './side.js';\nawait import('./lazy.js');\nimport x from 'ajv';`),
    ['./a.js', '../b.js', './side.js', './lazy.js']);
});

test('every file of src/ is in a known layer and every import resolves to a file', () => {
  for (const [from, targets] of graph) {
    const layer = layerOf(from);
    assert.ok(layer === BACKEND || rankOf(layer) >= 0, `${from}: folder ${layer} is in no layer (add it to LAYERS and the README)`);
    for (const to of targets) assert.ok(graph.has(to), `${from} imports ${to}, which is not a file of src/`);
  }
  assert.ok(graph.size > 50, `found only ${graph.size} files`);
});

test('no import cycle between files', () => {
  const cycles = importCycles(graph);
  assert.equal(cycles, [], `import cycles:\n${cycles.map((c) => `  ${c.join(' ↔ ')}`).join('\n')}`);
});

test('no import from a lower layer to a higher one', () => {
  const bad = upwardImports(graph);
  assert.equal(bad, [], `upward imports:\n  ${bad.join('\n  ')}`);
});

test('backend reached only through the registry', () => {
  const bad = backendViolations(graph);
  assert.equal(bad, [], `backend shortcuts:\n  ${bad.join('\n  ')}`);
});

test.run();
