import type * as OpenTelemetryApi from '@opentelemetry/api';
import { InvalidOptionsError } from '../common/coordination.error.js';

export type { OpenTelemetryApi };

/**
 * Loads `@opentelemetry/api` (an optional peer dependency: apps without the module option
 * `telemetry` never load it), or fails app start saying how to install it.
 */
export async function loadOpenTelemetryApi(): Promise<typeof OpenTelemetryApi> {
  try {
    const loaded = (await import('@opentelemetry/api')) as typeof OpenTelemetryApi & {
      default?: typeof OpenTelemetryApi;
    };
    return loaded.default ?? loaded;
  } catch (error) {
    throw new InvalidOptionsError([
      `telemetry needs the package @opentelemetry/api (${(error as Error).message}): npm install @opentelemetry/api`,
    ]);
  }
}
