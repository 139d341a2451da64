/** Check-digit algorithms the built-in detectors use to tell real identifiers from look-alike digit runs. */

/** A digit's part of a Luhn sum: doubled (and its digits summed) at every second place from the right. */
export function luhnDigit(d: number, doubled: boolean): number {
  if (!doubled) return d;
  const twice = d * 2;
  return twice > 9 ? twice - 9 : twice;
}

/** Luhn (mod 10) over a string of ASCII digits: payment cards, Canadian SINs. */
export function luhnValid(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    const d = digits.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return false;
    sum += luhnDigit(d, double);
    double = !double;
  }
  return digits.length > 0 && sum % 10 === 0;
}

/** ISO 13616 IBAN check: move the first four characters to the end, letters to 10..35, the number mod 97 must be 1. */
export function ibanChecksumValid(iban: string): boolean {
  const rearranged = iban.slice(4) + iban.slice(0, 4);
  let remainder = 0;
  for (let i = 0; i < rearranged.length; i++) {
    const c = rearranged.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      remainder = (remainder * 10 + (c - 48)) % 97;
    } else if (c >= 65 && c <= 90) {
      // A letter stands for two digits (A=10 .. Z=35).
      remainder = (remainder * 100 + (c - 55)) % 97;
    } else {
      return false;
    }
  }
  return remainder === 1;
}

// Verhoeff dihedral-group tables (Aadhaar numbers carry a Verhoeff check digit).
const VERHOEFF_D = [
  [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 2, 3, 4, 0, 6, 7, 8, 9, 5], [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
  [3, 4, 0, 1, 2, 8, 9, 5, 6, 7], [4, 0, 1, 2, 3, 9, 5, 6, 7, 8], [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
  [6, 5, 9, 8, 7, 1, 0, 4, 3, 2], [7, 6, 5, 9, 8, 2, 1, 0, 4, 3], [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
  [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
];
const VERHOEFF_P = [
  [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 5, 7, 6, 2, 8, 3, 0, 9, 4], [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
  [8, 9, 1, 6, 0, 4, 3, 5, 2, 7], [9, 4, 5, 3, 1, 2, 6, 8, 7, 0], [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
  [2, 7, 9, 3, 8, 0, 6, 4, 1, 5], [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
];

/** Verhoeff check over a string of ASCII digits (the last digit is the check digit). */
export function verhoeffValid(digits: string): boolean {
  let c = 0;
  for (let i = 0; i < digits.length; i++) {
    const d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (d < 0 || d > 9) return false;
    c = VERHOEFF_D[c]![VERHOEFF_P[i % 8]![d]!]!;
  }
  return digits.length > 0 && c === 0;
}

/**
 * luhnValid / verhoeffValid of text[start, end)'s characters in [0-9A-Za-z] (others skipped), read
 * where they stand: no string of them made (a prompt with a card in it runs the Aadhaar validator on
 * the card's first groups).
 */
export function luhnValidIn(text: string, start: number, end: number): boolean {
  let sum = 0;
  let double = false;
  let n = 0;
  for (let i = end - 1; i >= start; i--) {
    const c = text.charCodeAt(i);
    if (!isAlphanumericCode(c)) continue;
    if (c > 57) return false;
    sum += luhnDigit(c - 48, double);
    double = !double;
    n++;
  }
  return n > 0 && sum % 10 === 0;
}

export function verhoeffValidIn(text: string, start: number, end: number): boolean {
  let c = 0;
  let n = 0;
  for (let i = end - 1; i >= start; i--) {
    const code = text.charCodeAt(i);
    if (!isAlphanumericCode(code)) continue;
    if (code > 57) return false;
    c = VERHOEFF_D[c]![VERHOEFF_P[n % 8]![code - 48]!]!;
    n++;
  }
  return n > 0 && c === 0;
}

const isAlphanumericCode = (c: number): boolean => (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);

const DNI_LETTERS = 'TRWAGMYFPDXBNJZSQVHLCKE';

/** Spanish DNI (8 digits + letter) or NIE (X/Y/Z + 7 digits + letter): the letter is the number mod 23. */
export function spanishIdValid(id: string): boolean {
  const upper = id.toUpperCase();
  const lead = 'XYZ'.indexOf(upper[0] ?? '');
  const numeric = lead >= 0 ? String(lead) + upper.slice(1, 8) : upper.slice(0, 8);
  if (!/^\d{8}$/.test(numeric)) return false;
  return DNI_LETTERS[Number(numeric) % 23] === upper[8];
}
