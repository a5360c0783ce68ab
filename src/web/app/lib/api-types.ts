// Shapes of the analytics API (notes/contract.md), as the pages read them.
export type Source = 'eia' | 'simulated' | 'external' | 'mixed' | 'none';
export type FreshStatus = 'fresh' | 'late' | 'stale' | 'retired';
export interface Envelope { ba: string; source: Source; dataThrough: string | null; generatedAt: string; stale: boolean }
export interface Freshness { status: FreshStatus; lagMinutes: number }

export interface Ba { code: string; name: string; timeZone: string; geographicTimeZone: string; region: string; interconnection: string; generationOnly: boolean; active: boolean; retiredOn: string | null }

export interface NowRow {
  ba: string; name: string; region: string; interconnection: string; timeZone: string; hour: string | null;
  intensity: number | null; productionIntensity: number | null; demandMw: number | null; renewableShare: number | null;
  /** what the intensity's inputs lack at `hour` (interchange-missing: consumption-based waits for interchange) */
  intensityFlags?: string[];
  source: Source; dataThrough: string | null; freshness: Freshness;
}
export interface NowAll { generatedAt: string; data: NowRow[] }

export interface BaNow extends Envelope {
  hour: string; demandMw: number | null; netGenerationMw: number | null;
  mix: Array<{ fuel: string; name: string; mw: number | null; share: number | null }>;
  renewableShare: number | null; carbonFreeShare: number | null;
  intensity: { production: number | null; consumption: number | null; unit: string; flags?: { production: string[]; consumption: string[] } };
  /** when consumption at `hour` waits for interchange: the newest hour that has it */
  latestConsumption?: { hour: string; value: number | null; flags: string[] } | null;
  imports: Array<{ ba: string; mw: number }>;
  freshness: Freshness;
}

export interface Hourly extends Envelope {
  timeZone: string; ts: string[]; demand: (number | null)[]; forecast: (number | null)[]; netGeneration: (number | null)[];
  fuels: Record<string, (number | null)[]>; interchange: Record<string, (number | null)[]>;
  intensity: { production: (number | null)[]; consumption: (number | null)[] };
}

export interface BaselineMetric {
  metric: string; unit: string; value: number | null; definition?: string;
  /** pct is in percent */
  priorWeeks: { value: number; diff: number; pct: number | null } | null;
  lastYear: { value: number; diff: number; pct: number | null } | null;
  reasons?: { value?: string | null; priorWeeks?: string | null; lastYear?: string | null };
}
export interface Pulse extends Envelope {
  date: string; timeZone: string; hours: number;
  demand: { peakMw: number | null; peakAt: string | null; minMw: number | null; minAt: string | null; energyMwh: number | null };
  forecast: { mapePct: number | null; biasPct: number | null };
  mix: Array<{ fuel: string; name: string; mwh: number | null; share: number | null }>;
  renewableShare: number | null;
  intensity: { avg: number | null; cleanest: { ts: string; value: number } | null; dirtiest: { ts: string; value: number } | null };
  netInterchangeMwh: number | null;
  /** figure path (demand.energyMwh, …) → why it is null */
  reasons?: Record<string, string>;
  baseline?: BaselineMetric[] | { metrics: BaselineMetric[] };
}
export interface Window { start: string; end: string; avg: number }
export interface CleanWindow extends Envelope {
  duration: string; basis: 'production' | 'consumption'; factors: 'lifecycle' | 'direct'; input: 'forecast' | 'history'; optimal: Window[]; best: Window[]; runNow: (Window & { savingsPct: number }) | null;
}
export interface Forecast extends Envelope {
  madeAt: string; models: { demand: string | null; intensity: string | null };
  points: Array<{ ts: string; demandMw: number | null; intensity: number | null; intensityLow: number | null; intensityHigh: number | null }>;
}
export interface AccuracyCell { hours: number; mapePct: number | null; naiveMapePct: number | null }
export interface ForecastAccuracy extends Envelope {
  days: number;
  targets: Record<'demand' | 'intensity', { runs: number; all: AccuracyCell; byLead: Array<AccuracyCell & { lead: string }> }>;
}
export interface Duck extends Envelope {
  days: Array<{ date: string; score: number | null; bellyMw: number | null; bellyAt: string | null; eveningPeakMw: number | null; eveningPeakAt: string | null; rampMw: number | null }>;
  hours: Array<{ ts: string; demandMw: number | null; solarMw: number | null; windMw: number | null; netLoadMw: number | null }>;
  trend: { slopePerDay: number | null; days: number };
}
export interface SeriesFreshness extends Envelope {
  series: Array<{ key: string; type: string; subtype: string | null; newest: string | null; lagMinutes: number | null; expectedLagMinutes: number; status: FreshStatus }>;
}
export interface EmissionFactors {
  sets: Record<string, Record<string, number>>;
  fuels: Array<{ code: string; name: string; lifecycle: number | null; direct: number | null; renewable: boolean; carbonFree: boolean }>;
  storageRule: string;
  negativeRule?: string;
  overrides: Array<{ ba: string; fuel: string; set: string; value: number; source: string }>;
}
export interface PipelineRun {
  id: number; kind?: string; source?: string; status?: string; startedAt?: string; finishedAt?: string | null;
  [k: string]: unknown;
}
export interface PipelineFreshness { data: Array<{ ba: string; type: string; newest: string; lagMinutes: number }>; filling?: boolean }

/** GET /api/v1/pipeline/state (src/ingest/fill-state.ts) */
export interface PipelineState {
  data: { state: 'empty' | 'filling' | 'ready'; filling: boolean; dataThrough: string | null; run: { id: number; kind: string; startedAt: string; rowsInserted: number } | null; progress: number | null };
}
export interface CheckFinding { id: number; runId: number; check: string; ba: string; series: string; from: string; to: string; severity: string; count: number; detail: unknown }

/** GET /api/v1/bas/{code}/answer: the plain answer in words. */
export interface PlainAnswer extends Envelope {
  duration: string; timeZone: string;
  now: { hour: string; value: number } | null;
  usual: { value: number; days: number } | null;
  comparison: 'cleaner' | 'about usual' | 'dirtier' | null;
  cleanest: { start: string; end: string; avg: number; savingsPct: number | null } | null;
  sentence: string;
}

/** GET /api/v1/locate: the balancing authorities serving a place. */
export interface Located {
  kind: 'zip' | 'county' | 'state' | 'point'; label: string; state: string; subregion: string | null; utility?: string;
  ba: string | null; bas: Array<{ code: string; name: string | null; covered: boolean }>; multiple: boolean; note: string;
}
