/**
 * One entry for any uploaded manifest: its bytes decoded strictly, its kind read from the
 * document (`"kind": "predict"`, else training), and the validator of that kind. The upload
 * Lambda, `sage validate` and `sage run` call this; the trainer knows which kind it loads.
 */
import { decodeManifestBytes } from './parse';
import { manifestKind } from './schema';
import { validatePredictManifest, type PredictValidationResult, type ValidatePredictOptions } from './validate-predict';
import { validateManifest, type ValidateManifestOptions, type ValidationResult } from './validate';

export type UploadValidation = { kind: 'train'; result: ValidationResult } | { kind: 'predict'; result: PredictValidationResult };

export interface ValidateUploadOptions extends ValidateManifestOptions {
  /** Extra roots an inference manifest's `adapter` may name (the results bucket's runs/). */
  adapterRoots?: readonly string[];
}

export async function validateUpload(input: Uint8Array | string, options: ValidateUploadOptions = {}): Promise<UploadValidation> {
  let text: string;
  if (typeof input === 'string') text = input;
  else {
    const decoded = decodeManifestBytes(input);
    if (!decoded.ok) return { kind: 'train', result: decoded };
    text = decoded.text;
  }
  let value: unknown;
  try {
    value = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch {
    value = undefined; // the training validator reports the syntax error with its line
  }
  if (manifestKind(value) === 'predict') {
    const predictOptions: ValidatePredictOptions = {
      ...(options.manifestUri ? { manifestUri: options.manifestUri } : {}),
      ...(options.store ? { store: options.store } : {}),
      ...(options.checkStorage !== undefined ? { checkStorage: options.checkStorage } : {}),
      ...(options.referenceRoots ? { referenceRoots: options.referenceRoots } : {}),
      ...(options.adapterRoots ? { adapterRoots: options.adapterRoots } : {}),
      ...(options.sampleSize !== undefined ? { sampleSize: options.sampleSize } : {}),
      ...(options.seed !== undefined ? { seed: options.seed } : {}),
      ...(options.deadline !== undefined ? { deadline: options.deadline } : {}),
    };
    return { kind: 'predict', result: await validatePredictManifest(text, predictOptions) };
  }
  return { kind: 'train', result: await validateManifest(text, options) };
}
