import type { BuiltinDetector } from '../../config/content-detectors.js';

// The names are part of the operator↔data-plane contract (config/), which the operator may import.
export { BUILTIN_DETECTORS, type BuiltinDetector } from '../../config/content-detectors.js';

/** The marker each built-in detector's matches are replaced by. */
export const BUILTIN_MARKERS: Readonly<Record<BuiltinDetector, string>> = {
  Email: '[EMAIL]',
  Phone: '[PHONE]',
  PaymentCard: '[PAYMENT_CARD]',
  IBAN: '[IBAN]',
  NationalID: '[NATIONAL_ID]',
  IPAddress: '[IP_ADDRESS]',
  Credential: '[CREDENTIAL]',
};

/** Stands in for text that was not scanned (past the input cap, the match cap or the pattern work cap): it is dropped, never passed through. */
export const UNSCANNED_MARKER = '[UNSCANNED]';

/** A user-defined pattern (RE2 syntax). Its matches become `[NAME]` (the name upper-cased, `-` as `_`). */
export interface CustomPattern {
  name: string;
  pattern: string;
}

/** Caps that bound the work one scan can do, whatever the input. */
export interface DetectorLimits {
  /** Longest text (UTF-16 code units) scanned; the rest is reported unscanned. */
  maxInputLength: number;
  /** Most matches one scan records; scanning stops at the match that reaches it. */
  maxMatches: number;
  /**
   * Most work the custom patterns' matcher does in one scan, in RE2 program size × characters
   * handed to it (it costs ~20–120 ns a unit); the text from where it ran out is reported unscanned.
   */
  maxPatternWork: number;
}

/**
 * 4 Mi units: ~0.1–0.4 s of one core at most (pathological text on a loaded machine; see
 * bench/custom-pattern-bench.ts), and ~6 times what 200 KB of prose with 40 e-mail-like matches
 * costs a pattern of program size 146.
 */
export const DEFAULT_PATTERN_WORK = 1 << 22;

export const DEFAULT_DETECTOR_LIMITS: Readonly<DetectorLimits> = { maxInputLength: 1 << 20, maxMatches: 1000, maxPatternWork: DEFAULT_PATTERN_WORK };

/**
 * Matcher work (program size × characters) one request's scans may do together: pass one to
 * DetectorSet.scan for each text of the request, so that many texts cannot add up to more than
 * one text may cost. Each scan also stays within its own maxPatternWork.
 */
export class PatternBudget {
  spent = 0;
  constructor(public left: number = DEFAULT_PATTERN_WORK) {}
}

/** One detected span of the input. */
export interface Finding {
  /** The built-in detector, or `Custom` for a user pattern. */
  detector: BuiltinDetector | 'Custom';
  /** What the span is: the built-in name, or the custom pattern's name. */
  type: string;
  /** The marker that replaces the span, e.g. `[EMAIL]`. */
  marker: string;
  start: number;
  end: number;
}

export interface ScanResult {
  /** Non-overlapping findings in text order (overlapping matches are merged into the first one). */
  findings: Finding[];
  /** How far the text was scanned; equals text.length when complete. */
  scannedLength: number;
  /** False when a cap stopped the scan before the end of the text. */
  complete: boolean;
  /** Work the custom patterns' matcher did (program size × characters handed to it). */
  patternWork: number;
}

export interface RedactResult {
  /** The text with every finding replaced by its marker; any unscanned tail is replaced by UNSCANNED_MARKER. */
  text: string;
  /** Findings per finding type, e.g. `{ Email: 2, employee-id: 1 }`. */
  counts: Record<string, number>;
  complete: boolean;
}

/** Why a detector specification cannot be used; `field` names the offending entry. */
export interface DetectorSpecError {
  field: string;
  message: string;
}
