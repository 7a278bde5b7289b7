/** What each `bench/*.bench.ts` returns to bench/run.ts. */
export interface BenchRow {
  [column: string]: string | number | boolean | null;
}

export interface BenchReport {
  rows: BenchRow[];
  /** Lines printed under the table: targets met or missed, ratios. */
  notes?: string[];
}
