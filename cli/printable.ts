/**
 * Control and direction-changing characters: text a tenant or a manifest's author chose (a route's
 * public model may be any non-blank text) printed raw to a terminal could move the cursor, rewrite
 * lines or set the clipboard of whoever runs the command.
 */
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

const hex = (c: string): string => (c.codePointAt(0) ?? 0).toString(16);

/** `text` with those characters written out as `\u{…}` escapes. */
export const printable = (text: string): string => text.replace(UNPRINTABLE, (c) => `\\u{${hex(c)}}`);

/**
 * Those JSON.stringify leaves raw (it escapes U+0000–U+001F itself). Outside strings its output is
 * ASCII, so every match is inside one; the line breaks of indented output are not matched.
 */
const UNESCAPED_BY_JSON = /[\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** `value` as JSON (indented by `space`) with those characters as `\uXXXX` escapes: the same value, nothing a terminal acts on. */
export const printableJson = (value: unknown, space?: number): string =>
  JSON.stringify(value, null, space).replace(UNESCAPED_BY_JSON, (c) => `\\u${hex(c).padStart(4, '0')}`);

/** `text` as one single-quoted POSIX shell word: a quote inside cannot end it. */
export const shellWord = (text: string): string => `'${text.replaceAll("'", "'\\''")}'`;
