/** Number formatting shared by the report formats: percentages as the paper prints them. */

/** 0.8331 → "83.3"; null/undefined → "–". */
export function formatPercent(value: number | null | undefined, digits = 1): string {
  return value === null || value === undefined ? '–' : (value * 100).toFixed(digits);
}

/** 7299240 → "7.30", 617868 → "0.62", 2990 → "0.0030" (millions, as the paper's "Params (M)"; below 1 M two significant digits). */
export function formatMillions(count: number | undefined): string {
  if (count === undefined) return '–';
  const millions = count / 1e6;
  return millions >= 1 || millions === 0 ? millions.toFixed(2) : millions.toPrecision(2);
}

export function formatCount(count: number): string {
  return count.toLocaleString('en-US');
}
