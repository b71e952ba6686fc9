#!/usr/bin/env node
// The import-layer check CI runs (node scripts/check-imports.js): no module imports
// from a layer above its own, a subsystem reaches another only through its api.ts,
// and no runtime import cycle. Layers, low to high:
//   errors/version/lazy-require/net < config < stats, state < control < subsystems (upstream, download,
//   forward, deploy, fleet) < agent < ui < cli < commands/
// `import type` is erased at build and is not counted (the CLI imports reply types
// from subsystems on purpose); a dynamic import() is held to the layers too.
// Exits 1 with one line per break; prints a one-line summary either way. With --graph it
// first prints the graph between units (each folder of src/, commands/), lowest layer first.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SUBSYSTEM = 4;
const RANK = {
  'errors.ts': 0, 'version.ts': 0, 'lazy-require.ts': 0,
  // The network clients several subsystems share (TCP probe, JSON-RPC client, undici at first use); below config.
  net: 0,
  config: 1, stats: 2, state: 2, control: 3,
  upstream: SUBSYSTEM, download: SUBSYSTEM, forward: SUBSYSTEM, deploy: SUBSYSTEM, fleet: SUBSYSTEM,
  agent: 5, ui: 6, cli: 7,
};
const COMMANDS = 8;

/** A module's layer and its top folder (or file) under src/, or commands/. */
function layer(file) {
  const rel = relative(root, file).split(sep);
  if (rel[0] === 'commands') return { rank: COMMANDS, unit: 'commands' };
  if (rel[0] !== 'src') return { rank: undefined, unit: rel[0] };
  return { rank: RANK[rel[1]], unit: rel[1] };
}

function tsFiles(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...tsFiles(p));
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

// Static imports and re-exports that are not `type`-only, and dynamic import('…') of a relative path.
const STATIC = /^\s*(?:import|export)\s+(?!type\b)(?:[^;]*?\sfrom\s+)?['"](\.[^'"]+)['"]/gm;
const DYNAMIC = /\bimport\(\s*['"](\.[^'"]+)['"]\s*\)/g;

function target(from, spec) {
  let t = resolve(dirname(from), spec).replace(/\.js$/, '.ts');
  try {
    if (statSync(t).isDirectory()) t = join(t, 'index.ts');
  } catch {
    // not there: reported as a break below only if it names a layer
  }
  return t;
}

const files = [...tsFiles(join(root, 'src')), ...tsFiles(join(root, 'commands'))];
const graph = new Map();
const breaks = [];
/** unit -> units it imports at run time (a subsystem's api.ts marked as such), for --graph. */
const units = new Map();
for (const file of files) {
  const text = readFileSync(file, 'utf8');
  const edges = new Set();
  const check = (spec, kind) => {
    const to = target(file, spec);
    const a = layer(file);
    const b = layer(to);
    if (kind === 'static') edges.add(to);
    if (a.rank === undefined || b.rank === undefined || a.unit === b.unit) return;
    if (!units.has(a.unit)) units.set(a.unit, { rank: a.rank, uses: new Set() });
    units.get(a.unit).uses.add(b.rank === SUBSYSTEM && to.endsWith(`${sep}api.ts`) ? `${b.unit}/api` : b.unit);
    const what = `${relative(root, file)} -> ${relative(root, to)}${kind === 'dynamic' ? ' (dynamic import)' : ''}`;
    if (b.rank > a.rank) breaks.push(`upward: ${what}`);
    else if (a.rank === SUBSYSTEM && b.rank === SUBSYSTEM && !to.endsWith(`${sep}api.ts`)) breaks.push(`sideways: ${what} (a subsystem uses another only through its api.ts)`);
  };
  for (const m of text.matchAll(STATIC)) check(m[1], 'static');
  for (const m of text.matchAll(DYNAMIC)) check(m[1], 'dynamic');
  graph.set(file, edges);
}

// Runtime cycles among static imports: Tarjan's strongly connected components, iteratively.
const index = new Map();
const low = new Map();
const onStack = new Set();
const stack = [];
const cycles = [];
let next = 0;
for (const start of graph.keys()) {
  if (index.has(start)) continue;
  const work = [[start, [...graph.get(start)].filter((w) => graph.has(w)), 0]];
  index.set(start, next);
  low.set(start, next++);
  stack.push(start);
  onStack.add(start);
  while (work.length > 0) {
    const frame = work[work.length - 1];
    const [v, edges] = frame;
    if (frame[2] < edges.length) {
      const w = edges[frame[2]++];
      if (!index.has(w)) {
        index.set(w, next);
        low.set(w, next++);
        stack.push(w);
        onStack.add(w);
        work.push([w, [...graph.get(w)].filter((x) => graph.has(x)), 0]);
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v), index.get(w)));
      continue;
    }
    work.pop();
    if (work.length > 0) {
      const parent = work[work.length - 1][0];
      low.set(parent, Math.min(low.get(parent), low.get(v)));
    }
    if (low.get(v) === index.get(v)) {
      const scc = [];
      let w;
      do {
        w = stack.pop();
        onStack.delete(w);
        scc.push(relative(root, w));
      } while (w !== v);
      if (scc.length > 1) cycles.push(scc.sort());
    }
  }
}

if (process.argv.includes('--graph')) {
  const byLayer = [...units].sort(([a, x], [b, y]) => x.rank - y.rank || a.localeCompare(b));
  for (const [unit, { rank, uses }] of byLayer) console.log(`${String(rank)} ${unit.padEnd(16)} -> ${[...uses].sort().join(', ')}`);
}
for (const c of cycles) console.log(`cycle: ${c.join(' -> ')}`);
for (const b of breaks.sort()) console.log(b);
console.log(`${graph.size} modules, ${cycles.length} cycles, ${breaks.length} upward or sideways imports`);
process.exitCode = cycles.length > 0 || breaks.length > 0 ? 1 : 0;
