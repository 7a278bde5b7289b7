/** Cosine annealing stepped once per epoch to 0 (PyTorch CosineAnnealingLR, T_max = E, η_min = 0). */

/** Learning rate of the 0-based epoch `epoch` of `epochs`: lr·(1 + cos(π e / E)) / 2. */
export function cosineLearningRate(baseRate: number, epoch: number, epochs: number): number {
  return (baseRate * (1 + Math.cos((Math.PI * epoch) / epochs))) / 2;
}
