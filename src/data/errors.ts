/** Errors of the data loader that callers may want to catch by type. */
import { DataError } from '../common/errors';

/** Why an image was refused: it could not be read or could not be decoded. */
export type BadImageReason = 'missing' | 'unreadable' | 'corrupt';

/** What the loader reports about an image it could not use. */
export interface BadImageReport {
  key: string;
  label: number;
  reason: BadImageReason;
  /** The store's or the decoder's own words. */
  detail: string;
}

/** With `onBadImage: 'fail'`, the first image that cannot be used stops the epoch. */
export class LoaderBadImageError extends DataError {
  constructor(readonly report: BadImageReport) {
    super(`image "${report.key}" (label ${report.label}) is ${report.reason}: ${report.detail}. Fix or remove it, or open the loader with onBadImage: 'skip'`);
    this.name = 'LoaderBadImageError';
  }
}

/** The loader was asked for something its source cannot give (a bad option, a split without items). */
export class LoaderOptionsError extends DataError {
  constructor(message: string) {
    super(message);
    this.name = 'LoaderOptionsError';
  }
}
