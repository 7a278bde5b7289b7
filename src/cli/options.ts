/** Flag value parsers: each throws commander's InvalidArgumentError so a bad value exits 2 with usage. */
import { InvalidArgumentError, Option } from 'commander';
import path from 'node:path';
import { SettingsOverrides } from '../contracts/settings';
import { isS3Uri } from '../storage';
import { CliInputError } from './exit-codes';

export function parseInteger(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n)) throw new InvalidArgumentError(`expected an integer, got "${value}"`);
  return n;
}

export function parseNonNegativeInteger(value: string): number {
  const n = parseInteger(value);
  if (n < 0) throw new InvalidArgumentError(`expected a non-negative integer, got "${value}"`);
  return n;
}

export function parsePositiveInteger(value: string): number {
  const n = parseInteger(value);
  if (n < 1) throw new InvalidArgumentError(`expected a positive integer, got "${value}"`);
  return n;
}

export function parseNumber(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError(`expected a number, got "${value}"`);
  return n;
}

/** A local path (made absolute) or an s3:// URI, kept as is. */
export function parseLocation(value: string): string {
  if (value.trim() === '') throw new InvalidArgumentError('expected a path or an s3:// URI, got an empty string');
  if (isS3Uri(value)) {
    if (!/^s3:\/\/[^/]+/.test(value)) throw new InvalidArgumentError(`expected s3://bucket/key, got "${value}"`);
    return value;
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) throw new InvalidArgumentError(`expected a local path or an s3:// URI, got "${value}"`);
  return path.resolve(value);
}

/**
 * `--set key=value`, repeatable: values are JSON where they parse (numbers, booleans, null),
 * strings otherwise; `components.sg=false` sets a nested field. Collected into one object.
 */
export function collectSetting(pair: string, previous: Record<string, unknown> = {}): Record<string, unknown> {
  const eq = pair.indexOf('=');
  if (eq <= 0) throw new InvalidArgumentError(`expected key=value, got "${pair}"`);
  const key = pair.slice(0, eq).trim();
  const raw = pair.slice(eq + 1).trim();
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    value = raw;
  }
  const out: Record<string, unknown> = { ...previous };
  const [head, ...rest] = key.split('.');
  if (rest.length === 0) out[head!] = value;
  else out[head!] = { ...((out[head!] as Record<string, unknown> | undefined) ?? {}), [rest.join('.')]: value };
  return out;
}

/** Checks collected --set pairs (and shorthand flags) against the shared settings schema. */
export function toSettingsOverrides(raw: Record<string, unknown>): SettingsOverrides {
  const parsed = SettingsOverrides.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(settings)'}: ${issue.message}`);
    throw new CliInputError(`invalid setting(s):\n  ${problems.join('\n  ')}`);
  }
  return parsed.data;
}

/** An option taking a location; its default is shown relative in --help and resolved when used. */
export function locationOption(flags: string, description: string, defaultPath?: string): Option {
  const option = new Option(flags, description).argParser(parseLocation);
  return defaultPath === undefined ? option : option.default(parseLocation(defaultPath), defaultPath);
}
