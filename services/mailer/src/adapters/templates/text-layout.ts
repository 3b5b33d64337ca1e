/** The width plain-text parts are wrapped to (RFC 3676 §4.2 recommends lines of at most 78; 72 leaves room for quoting). */
export const TEXT_WIDTH = 72;

/** Characters that take no column: combining marks, joiners, variation selectors, bidi isolates and marks. */
const ZERO_WIDTH = /^[\p{M}\u200B-\u200F\u2060-\u206F\uFE00-\uFE0F\uFEFF]$/u;

/**
 * Characters a terminal gives two columns (East Asian Wide and Fullwidth, UAX #11): Han, kana,
 * Hangul, CJK punctuation, fullwidth forms, and emoji.
 */
const WIDE =
  /^[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}\u3000-\u303F\uFF01-\uFF60\uFFE0-\uFFE6\p{Extended_Pictographic}]$/u;

/** The columns `text` takes in a fixed-width font: 2 for wide characters, 0 for combining ones, else 1. */
export function displayWidth(text: string): number {
  let width = 0;
  for (const char of text) {
    if (ZERO_WIDTH.test(char)) continue;
    width += WIDE.test(char) ? 2 : 1;
  }
  return width;
}

const segmenter = new Intl.Segmenter(undefined, { granularity: 'word' });

/**
 * The pieces of `text` that must stay on one line: words with the punctuation that follows them
 * (a line never starts with "," or "。"), URLs and other runs without spaces whole, and, in
 * Chinese and Japanese, which have no spaces, each word on its own. `space` is the white space
 * before the piece (dropped where the line breaks).
 */
function unbreakablePieces(text: string): { space: string; text: string }[] {
  const pieces: { space: string; text: string }[] = [];
  let space = '';
  let previous = '';
  for (const { segment, isWordLike } of segmenter.segment(text)) {
    if (/^\s+$/u.test(segment)) {
      space += segment;
    } else {
      const wideBoundary = isWordLike === true && (hasWide(segment) || hasWide(previous));
      const last = pieces.at(-1);
      if (last && space === '' && !wideBoundary) last.text += segment;
      else pieces.push({ space, text: segment });
      space = '';
    }
    previous = segment;
  }
  return pieces;
}

function hasWide(text: string): boolean {
  return [...text].some((char) => WIDE.test(char));
}

/**
 * One line folded to `width` columns between words (a word longer than a line stays whole, so a
 * URL still works). Continuation lines get the line's indentation, plus two columns under a
 * list item's text when the line is one (`- …`).
 */
export function wrapLine(line: string, width: number = TEXT_WIDTH): string[] {
  if (displayWidth(line) <= width) return [line];
  const [, indent, bullet] = /^(\s*)(- )?/u.exec(line) as RegExpExecArray;
  const hanging = indent + (bullet ? '  ' : '');
  const lines: string[] = [];
  let current = indent + (bullet ?? '');
  let columns = displayWidth(current);
  let empty = true;
  for (const piece of unbreakablePieces(line.slice(current.length))) {
    const pieceColumns = displayWidth(piece.text);
    if (!empty && columns + displayWidth(piece.space) + pieceColumns > width) {
      lines.push(current);
      current = hanging;
      columns = displayWidth(hanging);
      empty = true;
    }
    const text = (empty ? '' : piece.space) + piece.text;
    current += text;
    columns += displayWidth(text);
    empty = false;
  }
  lines.push(current);
  return lines;
}

/** Every line of `text` folded to `width` columns (see `wrapLine`); lines that fit are left as they are. */
export function wrapText(text: string, width: number = TEXT_WIDTH): string {
  return text
    .split('\n')
    .flatMap((line) => wrapLine(line, width))
    .join('\n');
}
