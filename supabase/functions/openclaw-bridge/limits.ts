/**
 * How much a chat request may carry: one limit, stated in characters, and the body's byte cap
 * derived from it. No imports, so the bridge (Deno) and clawops's tests (Node) share this one copy.
 *
 * A character is a Unicode code point, counted after the body is decoded: a CJK character and an
 * emoji (an astral character, two UTF-16 code units) each count as one; an emoji built of several
 * code points (a family, a flag, a skin tone) counts as each of them.
 */

/** The most characters a message may have, whatever its script. */
export const MAX_MESSAGE_CHARS = 32_000;

/**
 * The most bytes one character can take in a JSON body: an astral character written as two
 * \uXXXX escapes, as clients that write ASCII-only JSON do (UTF-8 itself takes at most 4).
 */
export const MAX_JSON_BYTES_PER_CHAR = 12;

/** Room for the rest of the body: the keys, the session label (64 characters at most), whitespace. */
export const BODY_ENVELOPE_BYTES = 4_096;

/**
 * The body's cap, 388,096 bytes: any message within MAX_MESSAGE_CHARS fits, however its JSON is
 * spelled, so a message is refused for its length in characters only, never for its script.
 */
export const MAX_BODY_BYTES = MAX_MESSAGE_CHARS * MAX_JSON_BYTES_PER_CHAR + BODY_ENVELOPE_BYTES;

/** Characters (code points) in `text`; a lone surrogate counts as one. */
export function countChars(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i++;
    }
    n++;
  }
  return n;
}
