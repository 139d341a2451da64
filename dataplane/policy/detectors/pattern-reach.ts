import type { RE2JS } from 're2js';

/**
 * The most UTF-16 code units one match attempt of `re` can read past the position it starts at,
 * or undefined when a loop in its program (`*`, `+`, `{n,}`) leaves that unbounded. A bounded
 * repeat is unrolled in the program, so `[a-z]{1,64}@x\.com` reaches 72 and a scan in windows can
 * give it exactly the context it can read (see custom-pattern.ts).
 *
 * re2js types its program as `any`: the shape is checked here, and a program this function cannot
 * read counts as unbounded (the scan is then still bounded, only less exact for long matches).
 */
export function patternReach(re: RE2JS): number | undefined {
  const prog = (re.re2() as { prog?: unknown }).prog;
  if (!isProgram(prog)) return undefined;
  const count = prog.inst.length;
  // Longest path (in code units) from each instruction, by depth-first search: 0 unvisited, 1 on the path, 2 done.
  const state = new Uint8Array(count);
  const longest = new Int32Array(count);
  const visit = (pc: number): boolean => {
    if (pc < 0 || pc >= count) return false;
    if (state[pc] === 2) return true;
    if (state[pc] === 1) return false; // a loop
    state[pc] = 1;
    const inst = prog.inst[pc]!;
    let best = 0;
    switch (inst.op) {
      case OP.MATCH:
      case OP.FAIL:
        break;
      case OP.ALT:
      case OP.ALT_MATCH:
        if (!visit(inst.out) || !visit(inst.arg)) return false;
        best = Math.max(longest[inst.out]!, longest[inst.arg]!);
        break;
      case OP.CAPTURE:
      case OP.EMPTY_WIDTH:
      case OP.NOP:
        if (!visit(inst.out)) return false;
        best = longest[inst.out]!;
        break;
      case OP.RUNE:
      case OP.RUNE1:
      case OP.RUNE_ANY:
      case OP.RUNE_ANY_NOT_NL:
        if (!visit(inst.out)) return false;
        best = runeWidth(inst) + longest[inst.out]!;
        break;
      default:
        return false; // look-behind instructions or an op this version does not know: no claim
    }
    longest[pc] = best;
    state[pc] = 2;
    return true;
  };
  return visit(prog.start) ? longest[prog.start]! : undefined;
}

/** re2js's instruction codes (src/Inst.js), fixed by the pinned version. */
const OP = { ALT: 1, ALT_MATCH: 2, CAPTURE: 3, EMPTY_WIDTH: 4, FAIL: 5, MATCH: 6, NOP: 7, RUNE: 8, RUNE1: 9, RUNE_ANY: 10, RUNE_ANY_NOT_NL: 11 } as const;

interface Inst {
  op: number;
  out: number;
  arg: number;
  runes: ArrayLike<number>;
}

/** Code units one rune instruction consumes at most: two where it can match outside the BMP (a surrogate pair). */
function runeWidth(inst: Inst): number {
  if (inst.op === OP.RUNE_ANY || inst.op === OP.RUNE_ANY_NOT_NL) return 2;
  for (let i = 0; i < inst.runes.length; i++) if (inst.runes[i]! > 0xffff) return 2;
  return 1;
}

function isProgram(p: unknown): p is { start: number; inst: Inst[] } {
  if (typeof p !== 'object' || p === null) return false;
  const { start, inst } = p as { start?: unknown; inst?: unknown };
  return (
    typeof start === 'number' &&
    Array.isArray(inst) &&
    inst.every((i: unknown) => {
      if (typeof i !== 'object' || i === null) return false;
      const { op, out, arg, runes } = i as Record<string, unknown>;
      return typeof op === 'number' && typeof out === 'number' && typeof arg === 'number' && typeof runes === 'object' && runes !== null && typeof (runes as { length?: unknown }).length === 'number';
    })
  );
}
