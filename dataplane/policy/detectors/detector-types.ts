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

/** Stands in for text that was not scanned (past the input cap or the match cap): it is dropped, never passed through. */
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
}

export const DEFAULT_DETECTOR_LIMITS: Readonly<DetectorLimits> = { maxInputLength: 1 << 20, maxMatches: 1000 };

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
