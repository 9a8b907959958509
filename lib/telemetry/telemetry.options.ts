import { describeValue } from '../common/coordination.error.js';
import { assertKnownKeys, collectProblems, optionNames } from '../common/validate.js';
import type { TelemetryOptions } from './telemetry.interfaces.js';

/** The module option `telemetry`, checked; undefined when telemetry is off. */
export type ResolvedTelemetryOptions = Readonly<Required<TelemetryOptions>>;

const TELEMETRY_OPTION_NAMES = optionNames<TelemetryOptions>({ traces: true, metrics: true });

/** Checks the module option `telemetry` (`true` turns both on); problems go to `problems`. */
export function resolveTelemetryOptions(
  input: unknown,
  problems: string[],
): ResolvedTelemetryOptions | undefined {
  if (input === undefined || input === false) return undefined;
  if (input === true) return Object.freeze({ traces: true, metrics: true });
  const before = problems.length;
  collectProblems(
    'telemetry',
    problems,
  )(() => assertKnownKeys('telemetry', input, TELEMETRY_OPTION_NAMES));
  if (problems.length > before) return undefined;
  const { traces = true, metrics = true } = input as TelemetryOptions;
  for (const [name, value] of [
    ['traces', traces],
    ['metrics', metrics],
  ] as const) {
    if (typeof value !== 'boolean') {
      problems.push(`telemetry.${name} must be a boolean, got ${describeValue(value)}`);
    }
  }
  if (problems.length > before || (!traces && !metrics)) return undefined;
  return Object.freeze({ traces, metrics });
}
