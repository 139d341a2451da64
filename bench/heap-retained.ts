/**
 * What holds the objects a held stream adds: the dominator tree of a heap snapshot taken with N
 * streams held, restricted to the objects that are not in the idle snapshot (node ids are stable
 * between two snapshots of one process). Prints the new objects' retained bytes per stream by their
 * top-level holder, then one sample of each of the largest holders as a tree (edge : object), with
 * the function of each suspended generator or async function (`Generator <pumpStream>`) and its
 * registers (`parameters_and_registers`): what a suspended frame keeps.
 *   HEAP_KEEP=1 node --import tsx bench/heap-per-stream.ts <root> 1000     # keeps the two snapshots
 *   node --max-old-space-size=4000 --import tsx bench/heap-retained.ts <idle.heapsnapshot> <held.heapsnapshot> [streams=1000]
 * RETAINED_SAMPLES (default 6) holders are printed, down to RETAINED_DEPTH (default 12) levels and
 * RETAINED_MIN_BYTES (default 48) retained bytes.
 */
import { readFileSync } from 'node:fs';

const [idleFile, heldFile, streamsArg] = process.argv.slice(2);
if (idleFile === undefined || heldFile === undefined) throw new Error('usage: heap-retained.ts <idle.heapsnapshot> <held.heapsnapshot> [streams]');
const streams = Number(streamsArg ?? 1000);
const samples = Number(process.env.RETAINED_SAMPLES ?? 6);
const maxDepth = Number(process.env.RETAINED_DEPTH ?? 12);
const minBytes = Number(process.env.RETAINED_MIN_BYTES ?? 48);

interface RawSnapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[]]; edge_fields: string[]; edge_types: [string[]] } };
  nodes: number[];
  edges: number[];
  strings: string[];
}

function read(file: string): RawSnapshot {
  return JSON.parse(readFileSync(file, 'utf8')) as RawSnapshot;
}

const idleIds = new Set<number>();
{
  const idle = read(idleFile);
  const fields = idle.snapshot.meta.node_fields;
  const id = fields.indexOf('id');
  for (let i = 0; i < idle.nodes.length; i += fields.length) idleIds.add(idle.nodes[i + id] as number);
}

const snap = read(heldFile);
const { nodes, edges, strings } = snap;
const meta = snap.snapshot.meta;
const nodeWidth = meta.node_fields.length;
const edgeWidth = meta.edge_fields.length;
const nodeTypes = meta.node_types[0];
const edgeTypes = meta.edge_types[0];
const field = (fields: string[], name: string): number => fields.indexOf(name);
const [nType, nName, nId, nSize, nEdges] = ['type', 'name', 'id', 'self_size', 'edge_count'].map((f) => field(meta.node_fields, f)) as [number, number, number, number, number];
const [eType, eName, eTo] = ['type', 'name_or_index', 'to_node'].map((f) => field(meta.edge_fields, f)) as [number, number, number];
const count = nodes.length / nodeWidth;

const firstEdge = new Uint32Array(count + 1);
for (let i = 0, e = 0; i < count; i++) {
  firstEdge[i] = e;
  e += (nodes[i * nodeWidth + nEdges] as number) * edgeWidth;
}
firstEdge[count] = edges.length;

const typeOf = (i: number): string => nodeTypes[nodes[i * nodeWidth + nType] as number] ?? '?';
const nameOf = (i: number): string => strings[nodes[i * nodeWidth + nName] as number] ?? '';
const sizeOf = (i: number): number => nodes[i * nodeWidth + nSize] as number;
const target = (e: number): number => (edges[e + eTo] as number) / nodeWidth;
const edgeType = (e: number): string => edgeTypes[edges[e + eType] as number] ?? '?';
// Weak edges do not keep anything alive; shortcuts duplicate other paths.
const strong = (e: number): boolean => edgeType(e) !== 'weak' && edgeType(e) !== 'shortcut';
const isNew = new Uint8Array(count);
for (let i = 0; i < count; i++) if (!idleIds.has(nodes[i * nodeWidth + nId] as number)) isNew[i] = 1;

// Dominators (Cooper, Harvey and Kennedy's iterative algorithm over a reverse postorder from the root).
const postorder = new Int32Array(count).fill(-1);
const order: number[] = [];
const visited = new Uint8Array(count);
{
  const stack: [number, number][] = [[0, firstEdge[0] as number]];
  visited[0] = 1;
  while (stack.length > 0) {
    const top = stack[stack.length - 1] as [number, number];
    let pushed = false;
    while (top[1] < (firstEdge[top[0] + 1] as number)) {
      const e = top[1];
      top[1] += edgeWidth;
      const to = target(e);
      if (!strong(e) || visited[to] === 1) continue;
      visited[to] = 1;
      stack.push([to, firstEdge[to] as number]);
      pushed = true;
      break;
    }
    if (!pushed) {
      stack.pop();
      postorder[top[0]] = order.length;
      order.push(top[0]);
    }
  }
}
const predStart = new Uint32Array(count + 1);
const eachStrongEdge = (visit: (from: number, to: number) => void): void => {
  for (let i = 0; i < count; i++) {
    if (visited[i] !== 1) continue;
    for (let e = firstEdge[i] as number; e < (firstEdge[i + 1] as number); e += edgeWidth) if (strong(e)) visit(i, target(e));
  }
};
eachStrongEdge((_from, to) => {
  predStart[to + 1] = (predStart[to + 1] as number) + 1;
});
for (let i = 0; i < count; i++) predStart[i + 1] = (predStart[i + 1] as number) + (predStart[i] as number);
const preds = new Int32Array(predStart[count] as number);
const fill = predStart.slice(0, count);
eachStrongEdge((from, to) => {
  preds[fill[to] as number] = from;
  fill[to] = (fill[to] as number) + 1;
});
const idom = new Int32Array(count).fill(-1);
idom[0] = 0;
const intersect = (a0: number, b0: number): number => {
  let a = a0;
  let b = b0;
  while (a !== b) {
    while ((postorder[a] as number) < (postorder[b] as number)) a = idom[a] as number;
    while ((postorder[b] as number) < (postorder[a] as number)) b = idom[b] as number;
  }
  return a;
};
for (let changed = true; changed; ) {
  changed = false;
  for (let k = order.length - 1; k >= 0; k--) {
    const b = order[k] as number;
    if (b === 0) continue;
    let dom = -1;
    for (let p = predStart[b] as number; p < (predStart[b + 1] as number); p++) {
      const pred = preds[p] as number;
      if (idom[pred] === -1) continue;
      dom = dom === -1 ? pred : intersect(pred, dom);
    }
    if (dom !== -1 && idom[b] !== dom) {
      idom[b] = dom;
      changed = true;
    }
  }
}

// Retained bytes of new objects only: what the held streams added under each node.
const retained = new Float64Array(count);
for (const i of order) {
  if (isNew[i] === 1) retained[i] = (retained[i] as number) + sizeOf(i);
  const d = idom[i] as number;
  if (i !== 0 && d >= 0) retained[d] = (retained[d] as number) + (retained[i] as number);
}
const children = new Map<number, number[]>();
for (let i = 1; i < count; i++) {
  const d = idom[i] as number;
  if (visited[i] !== 1 || d < 0) continue;
  const list = children.get(d) ?? [];
  list.push(i);
  children.set(d, list);
}

/** The function a generator object runs (its `function` property). */
function functionOf(i: number): string {
  for (let e = firstEdge[i] as number; e < (firstEdge[i + 1] as number); e += edgeWidth) {
    if (edgeType(e) === 'internal' || edgeType(e) === 'property') if (strings[edges[e + eName] as number] === 'function') return nameOf(target(e)) || '(anonymous)';
  }
  return '?';
}
function label(i: number): string {
  const type = typeOf(i);
  if (!['object', 'closure', 'native', 'synthetic', 'hidden'].includes(type)) return `(${type})`;
  const name = nameOf(i).slice(0, 50);
  const prefix = type === 'object' ? '' : `${type} `;
  return name === 'Generator' ? `${prefix}Generator <${functionOf(i)}>` : `${prefix}${name}`;
}
function edgeName(from: number, to: number): string {
  for (let e = firstEdge[from] as number; e < (firstEdge[from + 1] as number); e += edgeWidth) {
    if (target(e) !== to) continue;
    const type = edgeType(e);
    const n = edges[e + eName] as number;
    return type === 'element' || type === 'hidden' ? `[${n}]` : String(strings[n]).slice(0, 40);
  }
  return '~';
}

// Top-level holders: new objects whose dominator is an old one (usually the synthetic root: held from several places).
const tops = new Map<string, { count: number; bytes: number; sample: number }>();
let total = 0;
for (let i = 1; i < count; i++) {
  if (visited[i] !== 1 || isNew[i] !== 1 || isNew[idom[i] as number] === 1) continue;
  const key = `${label(idom[i] as number)} -> ${label(i)}`;
  const group = tops.get(key) ?? { count: 0, bytes: 0, sample: i };
  group.count++;
  group.bytes += retained[i] as number;
  tops.set(key, group);
  total += retained[i] as number;
}
process.stdout.write(`new objects retained per held stream: ${(total / streams).toFixed(0)} B\n`);
const rows = [...tops].sort((a, b) => b[1].bytes - a[1].bytes);
for (const [key, g] of rows.slice(0, 30)) process.stdout.write(`${(g.bytes / streams).toFixed(0).padStart(7)} B ${(g.count / streams).toFixed(2).padStart(6)}  ${key}\n`);

function print(i: number, depth: number, via: string): void {
  process.stdout.write(`${'  '.repeat(depth)}${String(retained[i]).padStart(6)} ${via} : ${label(i)}${isNew[i] === 1 ? '' : ' (old)'}\n`);
  if (depth >= maxDepth) return;
  const kids = (children.get(i) ?? []).filter((c) => (retained[c] as number) >= minBytes).sort((a, b) => (retained[b] as number) - (retained[a] as number));
  for (const c of kids) print(c, depth + 1, edgeName(i, c));
}
for (const [key, g] of rows.slice(0, samples)) {
  process.stdout.write(`\none of ${key}:\n`);
  print(g.sample, 0, '');
}
