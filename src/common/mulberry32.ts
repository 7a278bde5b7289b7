/**
 * Kept only for the callers not yet moved to ./random (src/manifest/sampling.ts,
 * src/clip/testing.ts): the generator itself lives in ./random.
 */
export { mulberry32, MULBERRY32_STEP } from './random';
