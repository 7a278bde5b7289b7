/**
 * The logit adjustment added before the softmax: LA's τ·log n (Eq. 1) and, with CF,
 * log Λ_i = log μ + γ log n_i + log S_N − log(C·n_min) (Eq. 22), literally, in log space.
 *
 * μ and S_N/(C·n_min) are the same for every class, so they cancel in the softmax:
 * LA + CF is exactly LA with τ = 1 + γ (when τ = 1), and μ changes nothing.
 */
import type { Settings } from '../contracts/settings';
import { EngineInputError } from './errors';

export type AdjustmentSettings = Pick<Settings, 'loss' | 'tau' | 'mu' | 'gamma'> & { components: Pick<Settings['components'], 'cf'> };

/** log Λ_i per class (Eq. 22). */
export function logCompensation(counts: readonly number[], mu: number, gamma: number): Float32Array {
  const total = counts.reduce((a, b) => a + b, 0);
  const nMin = Math.min(...counts);
  const constant = Math.log(mu) + Math.log(total) - Math.log(counts.length * nMin);
  return Float32Array.from(counts, (n) => constant + gamma * Math.log(n));
}

/** The vector added to the logits in the loss: `τ log n` (LA) and `+ log Λ` (CF); zeros for plain CE without CF. */
export function logitAdjustment(counts: readonly number[], settings: AdjustmentSettings): Float32Array {
  const bad = counts.findIndex((n) => !(Number.isFinite(n) && n > 0));
  if (bad >= 0) throw new EngineInputError(`training count of class ${bad} is ${counts[bad]}; expected a positive number (log n is used)`);
  const adjustment = new Float32Array(counts.length);
  if (settings.loss === 'la') for (let i = 0; i < counts.length; i++) adjustment[i] = settings.tau * Math.log(counts[i] ?? 1);
  if (settings.components.cf) {
    const logLambda = logCompensation(counts, settings.mu, settings.gamma);
    for (let i = 0; i < counts.length; i++) adjustment[i] = (adjustment[i] ?? 0) + (logLambda[i] ?? 0);
  }
  return adjustment;
}
