/**
 * One fixed colour per method in every report: Sage is always blue, LIFT orange, zero-shot
 * grey, whatever the order of the rows, so two reports read alike. The ablation steps of
 * Tables 5-6 have their own colours; any other label gets one from a spare palette by a hash
 * of its name. A method that appears more than once (two sweeps of Sage) keeps its hue, each
 * repeat a shade darker or lighter, so the runs stay apart in the charts.
 */

/** Colours of the methods the paper's tables show (tableau10, which vega uses by default). */
export const METHOD_COLOURS: Readonly<Record<string, string>> = {
  sage: '#4c78a8',
  lift: '#f58518',
  'zero-shot': '#8c8c8c',
  'lift+sg': '#54a24b',
  'lift+sg+init': '#b279a2',
  'lift+sg+init+cf': '#e45756',
  'lift+cf': '#72b7b2',
  'lift+init': '#b8860b',
  'lift+fit': '#9d755d',
};

/** For the other labels; none is close to a colour above. */
const SPARE = ['#17becf', '#bcbd22', '#ff9da6', '#6b4c9a', '#2f4b7c', '#d62728', '#7f7f00', '#0b7a75'];

/** FNV-1a of the label: the same label always picks the same spare colour. */
function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** The base colour of a method label. */
export function methodColour(method: string): string {
  return METHOD_COLOURS[method] ?? SPARE[hash(method) % SPARE.length]!;
}

/** `#rrggbb` mixed with black (amount < 0) or white (amount > 0), |amount| ≤ 1. */
export function mixColour(hex: string, amount: number): string {
  const target = amount < 0 ? 0 : 255;
  const t = Math.min(1, Math.abs(amount));
  const channels = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
  return `#${channels.map((c) => Math.round(c + (target - c) * t).toString(16).padStart(2, '0')).join('')}`;
}

/** Shades for the k-th repeat of one method: the base, then darker, lighter, darker still, ... */
const REPEAT_SHADES = [0, -0.35, 0.4, -0.6, 0.65];

/** A colour per run, in run order: the method's colour, shaded for each repeat of the same method. */
export function runColours(methods: readonly string[]): string[] {
  const seen = new Map<string, number>();
  return methods.map((method) => {
    const k = seen.get(method) ?? 0;
    seen.set(method, k + 1);
    const base = methodColour(method);
    const shade = REPEAT_SHADES[k % REPEAT_SHADES.length]!;
    return shade === 0 ? base : mixColour(base, shade);
  });
}
