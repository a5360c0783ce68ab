/** The scale of one simulated balancing authority (src/ingest/simulated-scale.ts, docs/simulated-grid-scale.md). */
export interface BaScale {
  /** mean hourly demand (D), MW; null for a BA that reports no demand (generation-only) */
  demandMean: number | null;
  /** 98th percentile of hourly demand, MW */
  demandPeak: number | null;
  /** mean hourly net generation (NG), MW */
  generationMean: number;
  /** 98th percentile of hourly net generation, MW */
  generationPeak: number;
  /** mean hourly generation by EIA fuel code, MW (fuels with a mean of 0 or less are left out) */
  fuels: Readonly<Record<string, number>>;
  /** 98th percentile of hourly solar generation, MW */
  solarPeak: number;
  /** median demand of each month, January to December, relative to July's */
  season: readonly number[];
  source: string;
  seasonSource: string;
}
