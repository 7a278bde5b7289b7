/**
 * Independent plain-array (float64) implementations of the engine's formulas, written
 * from SPEC §2 for the tests to compare against. Matrices are row-major number[][].
 */
export type Matrix = number[][];

/** A deterministic filler for test values in [-scale, scale]. */
export function filler(seed: number): (scale?: number) => number {
  let state = seed >>> 0;
  return (scale = 1) => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return ((state / 4294967296) * 2 - 1) * scale;
  };
}

export function randomMatrix(rows: number, cols: number, next: (scale?: number) => number, scale = 1): Matrix {
  return Array.from({ length: rows }, () => Array.from({ length: cols }, () => next(scale)));
}

export function matmul(a: Matrix, b: Matrix): Matrix {
  return a.map((row) => (b[0] ?? []).map((_, j) => row.reduce((sum, v, k) => sum + v * b[k]![j]!, 0)));
}

export function layerNormRow(row: number[], gamma: number[], beta: number[], eps = 1e-5): number[] {
  const mean = row.reduce((a, b) => a + b, 0) / row.length;
  const variance = row.reduce((a, b) => a + (b - mean) ** 2, 0) / row.length;
  return row.map((v, i) => ((v - mean) / Math.sqrt(variance + eps)) * gamma[i]! + beta[i]!);
}

export function addBias(m: Matrix, bias: number[]): Matrix {
  return m.map((row) => row.map((v, j) => v + bias[j]!));
}

export interface SgParams {
  gamma: number[];
  beta: number[];
  proj: { weight: Matrix; bias: number[] } | null;
  downV: { weight: Matrix; bias: number[] };
  downVt: { weight: Matrix; bias: number[] };
  downT: { weight: Matrix; bias: number[] };
  up: { weight: Matrix; bias: number[] };
  scaleVt: number;
  scale: number;
}

/** Eqs. 7-8 literally, token by token, with the guidance repeated per token as the paper writes it. */
export function sgAdapterReference(x: Matrix, guidance: number[], p: SgParams, alpha: number): Matrix {
  return x.map((token) => {
    const fV = layerNormRow(token, p.gamma, p.beta);
    const fT = layerNormRow(guidance, p.gamma, p.beta);
    const projected = p.proj ? addBias(matmul([fT], p.proj.weight), p.proj.bias)[0]! : fT;
    const fVt = projected.map((v, i) => v * fV[i]!);
    const hv = addBias(matmul([fV], p.downV.weight), p.downV.bias)[0]!;
    const hvt = addBias(matmul([fVt], p.downVt.weight), p.downVt.bias)[0]!;
    const ht = addBias(matmul([fT], p.downT.weight), p.downT.bias)[0]!;
    const h = [...hv, ...hvt.map((v, i) => v + p.scaleVt * ht[i]!)];
    // Eq. 8 as printed: α(σ(h) W_up) + (1 − α)(h W_up), each with the bias once.
    const relu = h.map((v) => Math.max(0, v));
    const upRelu = matmul([relu], p.up.weight)[0]!;
    const upLinear = matmul([h], p.up.weight)[0]!;
    return upRelu.map((v, j) => p.scale * (alpha * v + (1 - alpha) * upLinear[j]! + p.up.bias[j]!));
  });
}

export interface AdaptFormerParams {
  gamma: number[];
  beta: number[];
  down: { weight: Matrix; bias: number[] };
  up: { weight: Matrix; bias: number[] };
  scale: number;
}

export function adaptFormerReference(x: Matrix, p: AdaptFormerParams): Matrix {
  return x.map((token) => {
    const hidden = addBias(matmul([layerNormRow(token, p.gamma, p.beta)], p.down.weight), p.down.bias)[0]!.map((v) => Math.max(0, v));
    return addBias(matmul([hidden], p.up.weight), p.up.bias)[0]!.map((v) => p.scale * v);
  });
}

export function normalize(row: number[]): number[] {
  const norm = Math.sqrt(row.reduce((a, b) => a + b * b, 0));
  return row.map((v) => v / norm);
}

/** scale · cos(w_i, f) for every row f of `features`. */
export function cosineReference(features: Matrix, weights: Matrix, scale: number): Matrix {
  return features.map((f) => {
    const fn = normalize(f);
    return weights.map((w) => scale * normalize(w).reduce((sum, v, i) => sum + v * fn[i]!, 0));
  });
}

/** Σ over rows of −log softmax(z + adjustment)[label]. */
export function adjustedCeReference(logits: Matrix, labels: number[], adjustment: number[]): number {
  return logits.reduce((total, row, r) => {
    const shifted = row.map((v, i) => v + adjustment[i]!);
    const max = Math.max(...shifted);
    const logSum = max + Math.log(shifted.reduce((a, v) => a + Math.exp(v - max), 0));
    return total + logSum - shifted[labels[r]!]!;
  }, 0);
}

/** Eq. 24 with the logits of Eq. 23. */
export function fitLossReference(parts: {
  f: Matrix;
  fZs: Matrix;
  w: Matrix;
  wZs: Matrix;
  s1: number;
  s2: number;
  scale: number;
  labels: number[];
  adjustment: number[];
  lambdas: [number, number, number];
}): number {
  const z = cosineReference(parts.f, parts.w, parts.scale);
  const zv = cosineReference(parts.fZs, parts.w, parts.scale);
  const zt = cosineReference(parts.f, parts.wZs, parts.scale);
  const zHat = z.map((row, r) => row.map((v, i) => v + parts.s1 * zv[r]![i]! + parts.s2 * zt[r]![i]!));
  const l = (m: Matrix) => adjustedCeReference(m, parts.labels, parts.adjustment);
  return l(z) + parts.lambdas[0] * l(zv) + parts.lambdas[1] * l(zt) + parts.lambdas[2] * l(zHat);
}
