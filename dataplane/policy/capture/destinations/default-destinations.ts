import type { CaptureDestinationConfig } from '../../../config/data-policy-config.js';
import type { CaptureDestination } from '../bounded-exporter.js';
import { localDirectoryDestination } from './local-directory.js';
import { otlpLogsDestination } from './otlp-logs.js';
import { s3Destination } from './s3.js';

/** Builds the writer for one destination; tests pass their own. */
export type DestinationFactory = (config: CaptureDestinationConfig) => CaptureDestination | undefined;

export const defaultDestinations: DestinationFactory = (config) => {
  if (config.type === 'otlpLogs') return otlpLogsDestination(config.endpoint);
  if (config.type === 'localDirectory') return localDirectoryDestination(config.path);
  return s3Destination(config);
};
