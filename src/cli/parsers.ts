import type { FitSpec } from '../learner/schedule';
import { CliError } from './CliError';

/** A parser for one option's text, named after the flag so that errors can say which. */
export type Parser<T> = (flag: string, text: string) => T;

export const positiveNumber: Parser<number> = (flag, text) => {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || value <= 0) {
    throw new CliError(`Expected ${flag} to be a positive number, but got '${text}'.`);
  }
  return value;
};

export const positiveInteger: Parser<number> = (flag, text) => {
  const value = Number(text);
  if (!/^\s*\d+\s*$/.test(text) || !Number.isSafeInteger(value) || value <= 0) {
    throw new CliError(`Expected ${flag} to be a positive integer, but got '${text}'.`);
  }
  return value;
};

export const nonNegativeInteger: Parser<number> = (flag, text) => {
  const value = Number(text);
  if (!/^\s*\d+\s*$/.test(text) || !Number.isSafeInteger(value)) {
    throw new CliError(`Expected ${flag} to be a whole number of 0 or more, but got '${text}'.`);
  }
  return value;
};

export const nonNegativeNumber: Parser<number> = (flag, text) => {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || value < 0) {
    throw new CliError(`Expected ${flag} to be a number of 0 or more, but got '${text}'.`);
  }
  return value;
};

/** `lr:nCycle[:cycleLen[:cycleMult]]`, as the lesson's `learn.fit(lr, n_cycle, cycle_len, ...)`. */
export const fitSpec: Parser<FitSpec> = (flag, text) => {
  const parts = text.split(':');
  if (parts.length < 2 || parts.length > 4) {
    throw new CliError(
      `Expected ${flag} as lr:nCycle[:cycleLen[:cycleMult]] (e.g. 1e-1:4:1), but got '${text}'.`,
    );
  }
  const [lr, nCycle, cycleLen, cycleMult] = parts;
  return {
    lr: positiveNumber(`the rate in ${flag} ${text}`, lr),
    nCycle: positiveInteger(`the cycle count in ${flag} ${text}`, nCycle),
    ...(cycleLen === undefined
      ? {}
      : { cycleLen: positiveInteger(`the cycle length in ${flag} ${text}`, cycleLen) }),
    ...(cycleMult === undefined
      ? {}
      : { cycleMult: positiveInteger(`the cycle multiplier in ${flag} ${text}`, cycleMult) }),
  };
};

/** Formats a fit back into the `--fit` form. */
export function formatFit(spec: FitSpec): string {
  const parts = [spec.lr, spec.nCycle];
  if (spec.cycleLen !== undefined) parts.push(spec.cycleLen);
  if (spec.cycleMult !== undefined) parts.push(spec.cycleMult);
  return parts.join(':');
}
