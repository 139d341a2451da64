import { type Logger, symbols } from 'pino';

/** The message of every access-log line. */
export const ACCESS_LOG_MESSAGE = 'request';

const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;
const SEPARATORS = /[\u2028\u2029]/;

/**
 * JSON text with U+2028 and U+2029 escaped: JSON.stringify leaves them as they are, and some log
 * shippers split lines on them (a caller's text would then cut an access-log line in two). Called
 * on JSON.stringify's result where it is written: a helper that called JSON.stringify itself cost
 * every request ~0.17 KB of allocation (measured with bench/alloc-per-request.ts), though the
 * branch that called it never ran.
 */
function escaped(json: string): string {
  return SEPARATORS.test(json) ? json.replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029') : json;
}

/**
 * The fields of one access-log line as JSON text (`,"key":value` each, in the order they are
 * added), written the way pino writes the fields of an object: an undefined value is left out, a
 * non-finite number is null, anything else is JSON; but U+2028 and U+2029 of a string or of an
 * outside value (outsideJson) are escaped here and not by pino. Keys are plain names (nothing to escape).
 */
export class LineFields {
  text = '';

  /** With `values`, the fields are also kept as an object (for a logger that must build the line itself). */
  constructor(readonly values?: Record<string, unknown>) {}

  str(key: string, value: string | undefined): void {
    if (value === undefined) return;
    // Printable ASCII without quote or backslash is its own JSON; anything else is escaped.
    this.text += PLAIN.test(value) ? `,"${key}":"${value}"` : `,"${key}":${escaped(JSON.stringify(value))}`;
    if (this.values !== undefined) this.values[key] = value;
  }

  num(key: string, value: number | undefined): void {
    if (value === undefined) return;
    this.text += `,"${key}":${Number.isFinite(value) ? String(value) : 'null'}`;
    if (this.values !== undefined) this.values[key] = value;
  }

  bool(key: string, value: boolean | undefined): void {
    if (value === undefined) return;
    this.text += `,"${key}":${String(value)}`;
    if (this.values !== undefined) this.values[key] = value;
  }

  /** A plain data value (object, array, string…) of the gateway's own names, as JSON. */
  json(key: string, value: unknown): void {
    if (value === undefined) return;
    this.text += `,"${key}":${JSON.stringify(value)}`;
    if (this.values !== undefined) this.values[key] = value;
  }

  /**
   * As json(), for a value that may hold text from outside (a moderation service's category names,
   * a webhook's error): U+2028 and U+2029 escaped. json() writes ids and names, which hold neither.
   */
  outsideJson(key: string, value: unknown): void {
    if (value === undefined) return;
    this.text += `,"${key}":${escaped(JSON.stringify(value))}`;
    if (this.values !== undefined) this.values[key] = value;
  }
}

/** One access-log line at a time (at info, message ACCESS_LOG_MESSAGE): its fields, then the line. */
export interface AccessLog {
  /** Empty fields to add the line's to, in order. */
  fields(): LineFields;
  write(fields: LineFields): void;
}

type Internals = Record<symbol, unknown>;

/** Whether `logger` writes an object's fields as they are (see LineFields): nothing of its configuration changes them. */
function writesFieldsAsTheyAre(logger: Internals, level: number): boolean {
  const levels = logger[symbols.lsCacheSym] as Record<number, unknown> | undefined;
  const formatters = logger[symbols.formattersSym] as { log?: unknown } | undefined;
  const hooks = logger[symbols.hooksSym] as { logMethod?: unknown; streamWrite?: unknown } | undefined;
  const stringifiers = logger[symbols.stringifiersSym];
  const stream = logger[symbols.streamSym] as { write?: unknown; [key: symbol]: unknown } | undefined;
  return (
    typeof levels?.[level] === 'string' &&
    typeof logger[symbols.timeSym] === 'function' &&
    typeof logger[symbols.chindingsSym] === 'string' &&
    typeof logger[symbols.endSym] === 'string' &&
    typeof stream?.write === 'function' &&
    stream[symbols.needsMetadataGsym] !== true &&
    formatters?.log === undefined &&
    hooks?.logMethod === undefined &&
    hooks?.streamWrite === undefined &&
    !logger[symbols.mixinSym] &&
    logger[symbols.messageKeySym] === 'msg' &&
    logger[symbols.nestedKeySym] === null &&
    // Not in pino's types; when absent from its symbols, no prefix can be set either.
    !logger[(symbols as unknown as Record<string, symbol>).msgPrefixSym ?? Symbol('none')] &&
    // Redaction (pino's `redact`) works through stringifiers.
    typeof stringifiers === 'object' &&
    stringifiers !== null &&
    Reflect.ownKeys(stringifiers).length === 0
  );
}

/**
 * The access log on `logger`. A plain pino logger (no field serializers, formatters,
 * redaction, mixin or hooks: the CLI's) gets the line written to its stream directly, exactly as
 * `logger.info(fields, 'request')` would (its level, time, bindings and line end) without
 * pino's walk over an object built for it: that walk was a visible part of a request's cost. Any
 * other logger gets the fields as an object through `logger.info`, so its configuration applies.
 */
export function accessLog(logger: Logger): AccessLog {
  const internals = logger as unknown as Internals;
  const serializers = (internals[symbols.serializersSym] ?? {}) as Record<string, unknown>;
  const info = logger.levels.values.info ?? 30;
  if (!writesFieldsAsTheyAre(internals, info) || Object.keys(serializers).some((key) => key !== 'err')) {
    return { fields: () => new LineFields({}), write: (fields) => logger.info(fields.values ?? {}, ACCESS_LOG_MESSAGE) };
  }
  const message = `,"msg":${JSON.stringify(ACCESS_LOG_MESSAGE)}`;
  const write = (fields: LineFields): void => {
    if (!logger.isLevelEnabled('info')) return;
    const level = (internals[symbols.lsCacheSym] as Record<number, string>)[info] as string;
    const time = (internals[symbols.timeSym] as () => string)();
    const stream = internals[symbols.streamSym] as { write(line: string): unknown };
    stream.write(`${level}${time}${internals[symbols.chindingsSym] as string}${fields.text}${message}${internals[symbols.endSym] as string}`);
  };
  return { fields: () => new LineFields(), write };
}
