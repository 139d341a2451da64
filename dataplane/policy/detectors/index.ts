// The content detectors' public surface (see README.md). A leaf module: it imports nothing from the rest of the data plane.
export { compileDetectors, detectorSpecErrors, type DetectorSet, type DetectorSetResult, type DetectorSpec } from './detector-set.js';
// Deny lists (guardrail/deny-list.ts) read text folded as the detectors do.
export { fold, unfoldAt, type Folded } from './text-fold.js';
export { compileCustomPattern, MAX_CUSTOM_PATTERNS, MAX_CUSTOM_PROGRAM_SIZE, MAX_TOTAL_CUSTOM_PROGRAM_SIZE, CUSTOM_PATTERN_NAME } from './custom-pattern.js';
export {
  BUILTIN_DETECTORS,
  BUILTIN_MARKERS,
  DEFAULT_DETECTOR_LIMITS,
  DEFAULT_PATTERN_WORK,
  PatternBudget,
  UNSCANNED_MARKER,
  type BuiltinDetector,
  type CustomPattern,
  type DetectorLimits,
  type DetectorSpecError,
  type Finding,
  type RedactResult,
  type ScanResult,
} from './detector-types.js';
