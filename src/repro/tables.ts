/**
 * The paper's tables and sensitivity grids as sweeps: for each, the datasets it has
 * columns for and its rows, each row one sweep entry (the settings overrides that make it,
 * layered over the dataset's Table 8 preset). Only rows this pipeline can run are entries;
 * the other methods a table compares against are named in `notOurs`.
 */
import type { SettingsOverrides } from '../contracts/settings';
import type { PaperDataset } from './datasets';
import type { PaperMetric, PaperTableNumber } from './paper';

export interface ReproRow {
  /** The paper's row label (or ours, for a row the paper's table has not: see `note`). */
  label: string;
  /** The sweep entry: what makes this row, over `training` (the preset and the user's changes). */
  overrides: SettingsOverrides;
  /** Whether the paper prints figures for this row (zero-shot CLIP and grid points: no). */
  inPaper: boolean;
  /** Said next to the row where our reading of it is not literal. */
  note?: string;
}

export interface ReproTable {
  /** What `sage repro` takes: `5`, `10`, `alpha`. */
  id: string;
  /** Paper's table number (figures in paper.ts); undefined for the sensitivity grids. */
  tableNumber?: PaperTableNumber;
  /** "Table 5" or "Fig. 8 (α)". */
  source: string;
  title: string;
  /** Datasets the table has columns for; the first is the default for a toy dataset. */
  datasets: readonly PaperDataset[];
  /** The metrics the paper prints for this table (Table 1: all only; grids: none). */
  metrics: readonly PaperMetric[];
  rows: readonly ReproRow[];
  /** Methods the paper's table compares that are not this pipeline's (not run). */
  notOurs: readonly string[];
  /** What the reader of the report should know about this table's set-up. */
  notes: readonly string[];
  /**
   * How head / medium / tail are formed. `preset split` (default): the prepared manifest's
   * evaluation.groupCounts (CIFAR β = 50 and 10 use β = 100's). `own counts`: the training
   * counts themselves, as Table 7 does; the sweep drops evaluation.groupCounts.
   */
  grouping?: 'preset split' | 'own counts';
}

const CIFAR: readonly PaperDataset[] = ['cifar100-lt-r100', 'cifar100-lt-r50', 'cifar100-lt-r10'];
const LARGE: readonly PaperDataset[] = ['imagenet-lt', 'places-lt', 'inat2018'];
const ALL_METRICS: readonly PaperMetric[] = ['all', 'head', 'medium', 'tail'];

const ZERO_SHOT_NOTE = "not a row of the paper's table: zero-shot CLIP as our reference";

/** Tables 1-4: zero-shot CLIP (ours), LIFT and Sage. */
function comparisonRows(): ReproRow[] {
  return [
    { label: 'Zero-shot CLIP', overrides: { method: 'zero-shot' }, inPaper: false, note: ZERO_SHOT_NOTE },
    { label: 'LIFT', overrides: { method: 'lift' }, inPaper: true },
    { label: 'Sage', overrides: { method: 'sage' }, inPaper: true },
  ];
}

/** Tables 5-6: the components switched on one after another (see paper.ts on reading the check marks). */
function ablationRows(): ReproRow[] {
  return [
    { label: 'none (LIFT)', overrides: { method: 'lift' }, inPaper: true },
    { label: 'SG', overrides: { method: 'lift', components: { sg: true } }, inPaper: true },
    { label: 'SG + Init', overrides: { method: 'lift', components: { sg: true, init: true } }, inPaper: true },
    { label: 'SG + Init + CF', overrides: { method: 'lift', components: { sg: true, init: true, cf: true } }, inPaper: true },
    { label: 'SG + Init + CF + FIT (Sage)', overrides: { method: 'sage' }, inPaper: true },
  ];
}

const BASELINE_NOTE = 'our reading: AdaptFormer with Init and CF (Appendix E: all models share the initialisation and the compensation factor)';

/** Tables 10-11: the SG-Adapter with and without W_proj, all with Init and CF, no FIT. */
function projectionRows(): ReproRow[] {
  const withInitCf = { init: true, cf: true };
  return [
    { label: 'Baseline', overrides: { method: 'lift', components: withInitCf }, inPaper: true, note: BASELINE_NOTE },
    { label: '+ SG-Adapter', overrides: { method: 'lift', components: { sg: true, ...withInitCf } }, inPaper: true },
    { label: '+ SG-Adapter (w/o W_proj)', overrides: { method: 'lift', components: { sg: true, ...withInitCf }, sgProjection: false }, inPaper: true },
  ];
}

/** `count` values start, start + step, ...; rounded to `digits` so 0.1·3 prints as 0.3. */
function grid(start: number, step: number, count: number, digits: number): number[] {
  return Array.from({ length: count }, (_, i) => Number((start + i * step).toFixed(digits)));
}

type GridParameter = 'alpha' | 'gamma' | 'mu' | 'lambda1' | 'lambda2' | 'lambda3';

const GRID_SYMBOL: Record<GridParameter, string> = { alpha: 'α', gamma: 'γ', mu: 'μ', lambda1: 'λ1', lambda2: 'λ2', lambda3: 'λ3' };

interface GridSpec {
  parameter: GridParameter;
  values: number[];
  /** Fig. 8 runs Sage without FIT; Fig. 7 (the λs, FIT's weights) with it. */
  figure: 7 | 8;
  range: string;
  /** What section 4.4.2 says about the best value. */
  paperSays: string;
}

const GRIDS: readonly GridSpec[] = [
  { parameter: 'alpha', values: grid(0, 0.1, 10, 1), figure: 8, range: 'α ∈ [0.00, 0.90]', paperSays: 'best at α = 0.10; performance falls as α grows past it' },
  { parameter: 'gamma', values: grid(0, 0.01, 10, 2), figure: 8, range: 'γ ∈ [0.00, 0.09]', paperSays: 'best at γ = 0.06 (with μ = 0.50)' },
  {
    parameter: 'mu',
    values: grid(0.1, 0.1, 10, 1),
    figure: 8,
    range: 'μ ∈ [0.10, 1.00]',
    paperSays: 'best at μ = 0.50 (with γ = 0.06). μ is the same for every class and cancels in the softmax (SPEC section 2), so our grid should be flat up to rounding',
  },
  { parameter: 'lambda1', values: grid(0, 0.0001, 6, 4), figure: 7, range: 'λ1 ∈ [0.0000, 0.0005]', paperSays: 'no best λ1 is named in the text' },
  { parameter: 'lambda2', values: grid(0, 0.005, 10, 3), figure: 7, range: 'λ2 ∈ [0.000, 0.045]', paperSays: 'best for λ2 ≤ 0.02, falling as λ2 grows' },
  { parameter: 'lambda3', values: grid(0, 0.1, 11, 1), figure: 7, range: 'λ3 ∈ [0.0, 1.0]', paperSays: 'global optimum at λ3 = 0.60, falling beyond' },
];

function gridTable(spec: GridSpec): ReproTable {
  const symbol = GRID_SYMBOL[spec.parameter];
  const base: SettingsOverrides = spec.figure === 8 ? { method: 'sage', components: { fit: false } } : { method: 'sage' };
  return {
    id: spec.parameter,
    source: `Fig. ${spec.figure} (${symbol})`,
    title: `sensitivity to ${symbol} on CIFAR-100-LT β = 50, Sage ${spec.figure === 8 ? 'without' : 'with'} FIT (section 4.4.2)`,
    datasets: ['cifar100-lt-r50'],
    metrics: [],
    rows: spec.values.map((value) => ({ label: `${symbol} = ${value}`, overrides: { ...base, [spec.parameter]: value }, inPaper: false })),
    notOurs: [],
    notes: [
      `The paper shows this study as a plot (Fig. ${spec.figure}), not as figures: no paper column. It sweeps ${spec.range}; its text says: ${spec.paperSays}.`,
      'The grid step is our choice (the paper gives only the range); the other settings are the β = 50 preset (Table 8), one parameter varied at a time.',
    ],
  };
}

const TABLE_7_NOTES = [
  "The paper does not name Table 7's backbone; its figures (CE: 42.4 at β = 100) are at the level of the ResNet-32 models trained from scratch in Table 1, not of CLIP fine-tuning. Our rows fine-tune CLIP with LIFT's adapter and the plain CE loss (loss=ce), so expect far higher figures: compare the CF gain, not the level.",
  "Table 7 groups classes by each β's own training counts (β = 50: 41 head, 41 medium, 18 tail; β = 10: no tail class, its 0.0 is an empty group), not by β = 100's as Table 5 does; this sweep does the same. Its β = 10 figures count the class with exactly 100 images as head (ours: > 100), and its CE row at β = 50 fits β = 100's grouping instead.",
];

const TABLE_7_LA_NOTE =
  "Not a row of the paper's Table 7 (its other rows are KPS and ProCo, with and without CF): the logit-adjusted loss LIFT trains with (tau = 1), with and without CF, so the CF gain can be read on LIFT's own loss too. CF is LA with tau = 1 + gamma (SPEC), so LA + CF adjusts by 1 + (1 + gamma); no paper figure.";

export const REPRO_TABLES: readonly ReproTable[] = [
  {
    id: '1',
    tableNumber: 1,
    source: 'Table 1',
    title: 'CIFAR-100-LT at β = 100, 50, 10',
    datasets: CIFAR,
    metrics: ['all'],
    rows: comparisonRows(),
    notOurs: ['LDAM', 'BBN', 'CDB-W-CE', 'DiVE', 'MiSLAS', 'BS', 'PaCo', 'BCL', 'FUR', 'ProCo', 'DBM-NCL', 'LiVT', 'BALLAD'],
    notes: ['Table 1 reports top-1 over all classes only.'],
  },
  {
    id: '2',
    tableNumber: 2,
    source: 'Table 2',
    title: 'Places-LT',
    datasets: ['places-lt'],
    metrics: ALL_METRICS,
    rows: comparisonRows(),
    notOurs: ['OLTR', 'cRT', 'LWS', 'MiSLAS', 'DisAlign', 'ALA', 'PaCo', 'LiVT', 'BALLAD', 'Decoder', 'LPT'],
    notes: [],
  },
  {
    id: '3',
    tableNumber: 3,
    source: 'Table 3',
    title: 'ImageNet-LT',
    datasets: ['imagenet-lt'],
    metrics: ALL_METRICS,
    rows: comparisonRows(),
    notOurs: ['cRT', 'LWS', 'CDB-W-CE', 'MiSLAS', 'LA (ResNet-50)', 'DisAlign', 'BCL', 'PaCo', 'NCL', 'FUR', 'ProCo', 'DBM-GML', 'LiVT', 'BALLAD', 'Decoder'],
    notes: [],
  },
  {
    id: '4',
    tableNumber: 4,
    source: 'Table 4',
    title: 'iNaturalist 2018',
    datasets: ['inat2018'],
    metrics: ALL_METRICS,
    rows: comparisonRows(),
    notOurs: ['cRT', 'LWS', 'MiSLAS', 'DiVE', 'DisAlign', 'ALA', 'RIDE', 'RIDE+CR', 'RIDE+OTmix', 'BCL', 'PaCo', 'NCL', 'GML', 'FUR', 'ProCo', 'DBM-GML', 'LiVT', 'Decoder', 'LPT'],
    notes: [],
  },
  {
    id: '5',
    tableNumber: 5,
    source: 'Table 5',
    title: 'component ablations (SG, Init, CF, FIT) on CIFAR-100-LT',
    datasets: CIFAR,
    metrics: ALL_METRICS,
    rows: ablationRows(),
    notOurs: [],
    notes: ["The table's check-mark columns are lost in the text; its rows are read as cumulative (SG, + Init, + CF, + FIT), which the deltas of section 4.4.1 confirm."],
  },
  {
    id: '6',
    tableNumber: 6,
    source: 'Table 6',
    title: 'component ablations (SG, Init, CF, FIT) on the large datasets',
    datasets: LARGE,
    metrics: ALL_METRICS,
    rows: ablationRows(),
    notOurs: [],
    notes: ["The table's check-mark columns are lost in the text; its rows are read as cumulative (SG, + Init, + CF, + FIT), which the deltas of section 4.4.1 confirm."],
  },
  {
    id: '7',
    tableNumber: 7,
    source: 'Table 7',
    title: 'the compensation factor with the CE loss on CIFAR-100-LT',
    datasets: CIFAR,
    metrics: ALL_METRICS,
    rows: [
      { label: 'CE', overrides: { method: 'lift', loss: 'ce' }, inPaper: true },
      { label: 'CE + CF', overrides: { method: 'lift', loss: 'ce', components: { cf: true } }, inPaper: true },
      // Asked for beside CE (issue 16) though the paper's Table 7 has no such rows: LA is LIFT's own loss (tau = 1).
      { label: 'LA', overrides: { method: 'lift', loss: 'la' }, inPaper: false, note: TABLE_7_LA_NOTE },
      { label: 'LA + CF', overrides: { method: 'lift', loss: 'la', components: { cf: true } }, inPaper: false, note: TABLE_7_LA_NOTE },
    ],
    notOurs: ['KPS', 'KPS + CF', 'ProCo', 'ProCo + CF'],
    notes: TABLE_7_NOTES,
    grouping: 'own counts',
  },
  {
    id: '10',
    tableNumber: 10,
    source: 'Table 10',
    title: 'the SG-Adapter with and without W_proj on CIFAR-100-LT',
    datasets: CIFAR,
    metrics: ALL_METRICS,
    rows: projectionRows(),
    notOurs: [],
    notes: ['No FIT in these rows: "+ SG-Adapter" equals Table 5\'s SG + Init + CF row figure for figure.'],
  },
  {
    id: '11',
    tableNumber: 11,
    source: 'Table 11',
    title: 'the SG-Adapter with and without W_proj on the large datasets',
    datasets: LARGE,
    metrics: ALL_METRICS,
    rows: projectionRows(),
    notOurs: [],
    notes: ['No FIT in these rows: "+ SG-Adapter" equals Table 6\'s SG + Init + CF row figure for figure.'],
  },
  ...GRIDS.map(gridTable),
];

export const REPRO_TABLE_IDS: readonly string[] = REPRO_TABLES.map((t) => t.id);

/** A table by id; `table5`, `t5` and `Table 5` name table `5` too. Undefined when unknown. */
export function findReproTable(name: string): ReproTable | undefined {
  const id = name
    .trim()
    .toLowerCase()
    .replace(/^(table|t)\s*/, '');
  return REPRO_TABLES.find((t) => t.id === id);
}
