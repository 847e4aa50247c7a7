// No import circles under src/ (DESIGN.md): a circle makes the load order decide which module sees the
// other half-initialized, and it ties modules that should be separable (config.ts <-> options.ts was
// one). The graph counts every edge the compiler or node follows: `import`, `import type`,
// `export ... from`, side-effect imports and `import('...')` with a literal path.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const srcDir = join(repoRoot, 'src');

const STATIC = /^[ \t]*(?:import|export)[ \t]+(?:type[ \t]+)?(?:[\w$]+[ \t]*,?[ \t]*)?(?:\*(?:[ \t]+as[ \t]+[\w$]+)?|\{[^}]*\})?[ \t]*from[ \t]*['"]([^'"]+)['"]/gm;
const SIDE_EFFECT = /^[ \t]*import[ \t]*['"]([^'"]+)['"]/gm;
const DYNAMIC = /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g;

/** The module paths a source text names, in order of appearance per kind. */
function importedSpecifiers(text: string): string[] {
  return [STATIC, SIDE_EFFECT, DYNAMIC].flatMap((re) => [...text.matchAll(re)].map((m) => m[1]!));
}

type Graph = Map<string, string[]>;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [join(dir, e.name)] : [],
  );
}

/** src-relative file → the src files it imports; `unresolved` collects relative imports that name no file. */
function srcGraph(unresolved: string[]): Graph {
  const graph: Graph = new Map();
  for (const file of sourceFiles(srcDir)) {
    const edges = new Set<string>();
    for (const spec of importedSpecifiers(readFileSync(file, 'utf8'))) {
      if (!spec.startsWith('.')) continue;
      const target = resolve(dirname(file), spec.replace(/\.js$/, '.ts'));
      if (existsSync(target)) edges.add(relative(repoRoot, target));
      else unresolved.push(`${relative(repoRoot, file)}: ${spec}`);
    }
    graph.set(relative(repoRoot, file), [...edges].sort());
  }
  return graph;
}

/** One circle per strongly connected component (Tarjan), written a -> b -> a. */
function findCycles(graph: Graph): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  const visit = (v: string) => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1 || graph.get(v)?.includes(v)) components.push(component);
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) visit(v);
  return components.map((component) => circleThrough(graph, new Set(component))).sort((x, y) => x[0]!.localeCompare(y[0]!));
}

/** A shortest path from the component's first file back to itself, inside the component. */
function circleThrough(graph: Graph, members: Set<string>): string[] {
  const start = [...members].sort()[0]!;
  const cameFrom = new Map<string, string>();
  const queue = [start];
  for (let i = 0; i < queue.length; i++) {
    const v = queue[i]!;
    for (const w of graph.get(v) ?? []) {
      if (!members.has(w)) continue;
      if (w === start) {
        const path = [start];
        for (let at: string | undefined = v; at !== start && at !== undefined; at = cameFrom.get(at)) path.splice(1, 0, at);
        return [...path, start];
      }
      if (!cameFrom.has(w)) {
        cameFrom.set(w, v);
        queue.push(w);
      }
    }
  }
  return [...members, start];
}

test('no import circles under src/', () => {
  const unresolved: string[] = [];
  const graph = srcGraph(unresolved);
  assert.deepEqual(unresolved, [], 'relative imports that name no source file (the graph would miss their edges)');
  // the parse sees the wiring at all (a regex that matched nothing would pass the circle check)
  assert.ok(graph.get('src/daemon.ts')?.includes('src/config.ts'), JSON.stringify(graph.get('src/daemon.ts')));
  assert.ok(graph.get('src/config-file.ts')?.includes('src/options.ts'));
  const cycles = findCycles(graph);
  assert.equal(cycles.length, 0, `import circles:\n${cycles.map((c) => '  ' + c.join(' -> ')).join('\n')}`);
});

test('every kind of import is an edge; comments and strings that only mention one are not', () => {
  const text = [
    "import { a } from './a.js';",
    "import type { B } from './b.js';",
    'import {',
    '  c1,',
    '  type c2,',
    "} from './c.js';",
    "import d, { d2 } from './d.js';",
    "import * as e from './e.js';",
    "export { f } from './f.js';",
    "export * from './g.js';",
    "export type { H } from './h.js';",
    "import './i.js';",
    "const j = await import('./j.js');",
    "// import { x } from './commented.js';",
    " * import { y } from './doc-comment.js'",
    "const s = 'import { z } from \"./in-a-string.js\"';",
    "export function k() { return Buffer.from('x'); }",
  ].join('\n');
  assert.deepEqual(importedSpecifiers(text).sort(), ['./a.js', './b.js', './c.js', './d.js', './e.js', './f.js', './g.js', './h.js', './i.js', './j.js']);
});

test('circles are found and listed, each once', () => {
  const graph: Graph = new Map([
    ['a', ['b']],
    ['b', ['c']],
    ['c', ['a', 'd']],
    ['d', []],
    ['e', ['e']],
    ['f', ['g']],
    ['g', ['f', 'd']],
  ]);
  assert.deepEqual(findCycles(graph), [['a', 'b', 'c', 'a'], ['e', 'e'], ['f', 'g', 'f']]);
  assert.deepEqual(findCycles(new Map([['a', ['b']], ['b', []]])), []);
});
