import { LuDecomposition, Matrix } from 'ml-matrix';

/**
 * Consumption-based intensity by flow tracing (de Chalendar et al., PNAS 2019; gridemissions
 * `consumption_emissions`; Electricity Maps "flow tracing"). Each BA mixes its own production with its
 * imports and then consumes or exports that mix, so per hour the consumption intensities x solve
 *
 *     x_i · (G_i + Σ_j F_{j→i}) − Σ_j F_{j→i} · x_j = E_i      for every BA i with data.
 *
 * Rules (documented in METHODOLOGY and flagged per hour):
 * - A pair's flow is the average of the two sides' reports (A's export to B and minus B's export to A);
 *   when they differ by more than PAIR_TOLERANCE both BAs get 'pair-mismatch'. One side alone is used as is.
 * - A neighbour without production data (no fuel data that hour, or outside EIA-930 such as Canadian and
 *   Mexican BAs) is not in the system: imports from it are left out of the importer's mix ('neighbour-missing');
 *   exports to it leave with the exporter's mix and change nothing.
 * - Interchange is published later than generation, so an hour may have every BA's fuel mix and none of its
 *   interchange yet. Which pairs are expected in an hour comes from the caller (`expectedPairs`: from what the
 *   store knows about each series, never from the hours a query happens to cover). A BA none of whose expected
 *   pairs is reported by either side gets 'interchange-missing' (it is traced alone, so the solution keeps
 *   emissions conserved, but consumptionPoints reports no value for it: its production mix is not a
 *   consumption-based value); one with some expected pairs unreported gets
 *   'interchange-partial' and is traced with the pairs that were reported.
 */

export const PAIR_TOLERANCE = { absoluteMw: 10, relative: 0.05 };

export type TraceFlag = 'neighbour-missing' | 'pair-mismatch' | 'interchange-missing' | 'interchange-partial';

/** One BA's production in one hour: emissions E (kg) and generation G (MWh), both ≥ 0. */
export interface TraceNode { emissions: number; generation: number }

/**
 * One hour of the system. `interchange[a][b]` is a's reported export to b in MW (negative = import),
 * null when a reported nothing for that pair this hour. `expectedPairs[a]` lists the neighbours a's
 * interchange with is expected this hour (either side has a series for the pair that covers the hour), to
 * tell "no interchange" from "interchange not published yet". `reportsInterchange` is the coarser older form:
 * BAs that have interchange series at all (each expected to report some pair).
 */
export interface TraceHour {
  nodes: ReadonlyMap<string, TraceNode>;
  interchange: Readonly<Record<string, Readonly<Record<string, number | null>>>>;
  expectedPairs?: ReadonlyMap<string, ReadonlySet<string>>;
  reportsInterchange?: ReadonlySet<string>;
}

export interface TraceResult {
  /** consumption intensity per BA with production data (null when it has neither generation nor imports of traceable energy) */
  intensity: Map<string, number | null>;
  flags: Map<string, Set<TraceFlag>>;
  /** reconciled flows between BAs in the system, MW, from → to → flow ≥ 0 */
  flows: Map<string, Map<string, number>>;
  solver: 'iterative' | 'direct';
}

function addFlag(flags: Map<string, Set<TraceFlag>>, ba: string, flag: TraceFlag): void {
  let set = flags.get(ba);
  if (!set) flags.set(ba, (set = new Set()));
  set.add(flag);
}

function mismatch(a: number, b: number): boolean {
  // a = export reported by one side, b = export reported by the other side in the opposite direction
  return Math.abs(a + b) > Math.max(PAIR_TOLERANCE.absoluteMw, PAIR_TOLERANCE.relative * Math.max(Math.abs(a), Math.abs(b)));
}

/** Net export a → b per unordered pair, reconciled from both sides' reports. */
export function reconcilePairs(interchange: TraceHour['interchange'], flags: Map<string, Set<TraceFlag>>): Map<string, Map<string, number>> {
  const net = new Map<string, Map<string, number>>();
  const seen = new Set<string>();
  for (const [a, row] of Object.entries(interchange)) {
    for (const b of Object.keys(row)) {
      const pair = a < b ? `${a}|${b}` : `${b}|${a}`;
      if (seen.has(pair)) continue;
      seen.add(pair);
      const ab = interchange[a]?.[b] ?? null;
      const ba = interchange[b]?.[a] ?? null;
      let exportAb: number;
      if (ab !== null && ba !== null) {
        if (mismatch(ab, ba)) { addFlag(flags, a, 'pair-mismatch'); addFlag(flags, b, 'pair-mismatch'); }
        exportAb = (ab - ba) / 2;
      } else if (ab !== null) exportAb = ab;
      else if (ba !== null) exportAb = -ba;
      else continue;
      if (!net.has(a)) net.set(a, new Map());
      net.get(a)!.set(b, exportAb);
    }
  }
  return net;
}

/** Directed flows ≥ 0 between BAs in the system, and the flags for imports from outside it. */
function systemFlows(hour: TraceHour, flags: Map<string, Set<TraceFlag>>): Map<string, Map<string, number>> {
  const flows = new Map<string, Map<string, number>>();
  const add = (from: string, to: string, mw: number) => {
    if (!flows.has(from)) flows.set(from, new Map());
    flows.get(from)!.set(to, mw);
  };
  for (const [a, row] of reconcilePairs(hour.interchange, flags)) {
    for (const [b, exportAb] of row) {
      const [from, to, mw] = exportAb >= 0 ? [a, b, exportAb] : [b, a, -exportAb];
      if (mw === 0) continue;
      if (!hour.nodes.has(to)) continue; // leaves the system with the exporter's mix
      if (!hour.nodes.has(from)) { addFlag(flags, to, 'neighbour-missing'); continue; }
      add(from, to, mw);
    }
  }
  const reported = new Set<string>();
  const reportedPair = new Set<string>();
  for (const [a, row] of Object.entries(hour.interchange)) {
    for (const b in row) {
      if (row[b] === null || row[b] === undefined) continue;
      reported.add(a); reported.add(b);
      reportedPair.add(`${a}|${b}`); reportedPair.add(`${b}|${a}`);
    }
  }
  for (const ba of hour.reportsInterchange ?? []) {
    if (hour.nodes.has(ba) && !reported.has(ba)) addFlag(flags, ba, 'interchange-missing');
  }
  for (const [ba, neighbours] of hour.expectedPairs ?? []) {
    if (!hour.nodes.has(ba) || neighbours.size === 0) continue;
    if (!reported.has(ba)) addFlag(flags, ba, 'interchange-missing');
    else if ([...neighbours].some((n) => !reportedPair.has(`${ba}|${n}`))) addFlag(flags, ba, 'interchange-partial');
  }
  return flows;
}

/**
 * Only energy that some BA generated can be traced. A BA holds traceable energy when it has generation or is
 * reached, along flows, from a BA that has; flows reported out of any other BA (no generation and no imports,
 * or only imports from such BAs, e.g. a loop of BAs without generation passing energy round with no source)
 * carry none: they are dropped and the importer flagged 'neighbour-missing'. Such BAs are then left with an
 * empty pool and get null, not the 0 that solving "x · inflow = 0 + inflow · x" would give.
 */
function dropUntraceableFlows(hour: TraceHour, flows: Map<string, Map<string, number>>, flags: Map<string, Set<TraceFlag>>): void {
  const sourced = new Set<string>();
  for (const [ba, n] of hour.nodes) if (n.generation > 0) sourced.add(ba);
  const queue = [...sourced];
  for (let from = queue.pop(); from !== undefined; from = queue.pop()) {
    for (const to of flows.get(from)?.keys() ?? []) if (!sourced.has(to)) { sourced.add(to); queue.push(to); }
  }
  for (const [from, row] of flows) {
    if (sourced.has(from)) continue;
    for (const to of row.keys()) addFlag(flags, to, 'neighbour-missing');
    flows.delete(from);
  }
}

interface LinearSystem { codes: string[]; pool: Float64Array; emissions: Float64Array; imports: Array<Array<[number, number]>> }

function buildSystem(hour: TraceHour, flows: Map<string, Map<string, number>>): LinearSystem {
  const codes = [...hour.nodes.keys()];
  const index = new Map(codes.map((c, i) => [c, i]));
  const n = codes.length;
  const pool = new Float64Array(n);
  const emissions = new Float64Array(n);
  const imports: Array<Array<[number, number]>> = codes.map(() => []);
  codes.forEach((c, i) => {
    const node = hour.nodes.get(c)!;
    pool[i] = node.generation;
    emissions[i] = node.emissions;
  });
  for (const [from, row] of flows) {
    for (const [to, mw] of row) {
      const i = index.get(to)!;
      imports[i]!.push([index.get(from)!, mw]);
      pool[i]! += mw;
    }
  }
  return { codes, pool, emissions, imports };
}

/**
 * Connected components of the flow graph (flows in either direction), each a list of node indices in node
 * order. The linear system is block-diagonal over them: a BA's intensity depends on its own component only,
 * so each is solved on its own (one that needs LU does not pull the others along, and a BA's result does not
 * depend on BAs it has no interchange path to; the pulse of one BA traces only its component).
 */
function flowComponents(s: LinearSystem): number[][] {
  const parent = Int32Array.from(s.codes, (_, i) => i);
  const root = (i: number): number => {
    while (parent[i] !== i) i = parent[i] = parent[parent[i]!]!;
    return i;
  };
  s.imports.forEach((row, i) => { for (const [j] of row) parent[root(i)] = root(j); });
  const byRoot = new Map<number, number[]>();
  for (let i = 0; i < s.codes.length; i++) {
    const r = root(i);
    let members = byRoot.get(r);
    if (!members) byRoot.set(r, (members = []));
    members.push(i);
  }
  return [...byRoot.values()];
}

/**
 * Gauss–Seidel on the sparse system of one component (`members`, writing into x): each sweep sets x_i to the
 * mix of its own production and its imports. The matrix is diagonally dominant (strictly for BAs with
 * generation), so this converges; when it does not within `maxSweeps` (e.g. near-singular loops through BAs
 * without generation) it returns false and the caller falls back to LU.
 */
function solveIterative(s: LinearSystem, members: readonly number[], x: Float64Array, tolerance = 1e-9, maxSweeps = 500): boolean {
  for (const i of members) x[i] = s.pool[i]! > 0 ? s.emissions[i]! / s.pool[i]! : 0;
  for (let sweep = 0; sweep < maxSweeps; sweep++) {
    let change = 0;
    let scale = 1;
    for (const i of members) {
      if (!(s.pool[i]! > 0)) continue;
      let sum = s.emissions[i]!;
      for (const [j, mw] of s.imports[i]!) sum += mw * x[j]!;
      const next = sum / s.pool[i]!;
      change = Math.max(change, Math.abs(next - x[i]!));
      scale = Math.max(scale, Math.abs(next));
      x[i] = next;
    }
    if (change <= tolerance * scale) return true;
  }
  return false;
}

/** Dense LU (ml-matrix) of one component: exact up to rounding, O(k³); NaN when singular. */
function solveDirect(s: LinearSystem, members: readonly number[], x: Float64Array): void {
  const k = members.length;
  const local = new Map(members.map((i, m) => [i, m]));
  const a = Matrix.zeros(k, k);
  const b = Matrix.zeros(k, 1);
  members.forEach((i, m) => {
    if (!(s.pool[i]! > 0)) { a.set(m, m, 1); return; }
    a.set(m, m, s.pool[i]!);
    b.set(m, 0, s.emissions[i]!);
    for (const [j, mw] of s.imports[i]!) { const l = local.get(j)!; a.set(m, l, a.get(m, l) - mw); }
  });
  const lu = new LuDecomposition(a);
  const solution = lu.isSingular() ? undefined : lu.solve(b).getColumn(0);
  members.forEach((i, m) => { x[i] = solution?.[m] ?? Number.NaN; });
}

export interface TraceOptions { solver?: 'auto' | 'direct' }

/** Traces one hour: consumption intensity of every BA with production data. */
export function traceHour(hour: TraceHour, options: TraceOptions = {}): TraceResult {
  const flags = new Map<string, Set<TraceFlag>>();
  const flows = systemFlows(hour, flags);
  dropUntraceableFlows(hour, flows, flags);
  const system = buildSystem(hour, flows);
  let solver: TraceResult['solver'] = options.solver === 'direct' ? 'direct' : 'iterative';
  const x = new Float64Array(system.codes.length);
  for (const members of flowComponents(system)) {
    if (members.length === 1) { const i = members[0]!; x[i] = system.emissions[i]! / system.pool[i]!; continue; }
    if (options.solver !== 'direct' && solveIterative(system, members, x)) continue;
    solver = 'direct';
    solveDirect(system, members, x);
  }
  const intensity = new Map<string, number | null>();
  system.codes.forEach((c, i) => {
    const v = x[i]!;
    intensity.set(c, system.pool[i]! > 0 && Number.isFinite(v) ? v : null);
  });
  return { intensity, flags, flows, solver };
}
