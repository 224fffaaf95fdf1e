// Search matches arrive as plain strings with the matched words wrapped in U+0002
// (start) and U+0003 (end). They are split here into text segments, rendered as text
// nodes and <mark> elements: never parsed as HTML.

export const MARK_START = "\u0002";
export const MARK_END = "\u0003";

export type Segment = { text: string; mark: boolean };

/** The string as plain and marked segments, in order; empty segments are left out.
 *  Stray markers are tolerated: an end without a start is dropped, a start without an
 *  end marks the rest. */
export function segments(s: string): Segment[] {
  const out: Segment[] = [];
  let mark = false;
  let buf = "";
  const flush = () => {
    if (buf) {
      const last = out[out.length - 1];
      if (last && last.mark === mark) last.text += buf;
      else out.push({ text: buf, mark });
    }
    buf = "";
  };
  for (const ch of s) {
    if (ch === MARK_START) {
      if (!mark) {
        flush();
        mark = true;
      }
    } else if (ch === MARK_END) {
      if (mark) {
        flush();
        mark = false;
      }
    } else {
      buf += ch;
    }
  }
  flush();
  return out;
}

/** The string without its markers. */
export function plain(s: string): string {
  return s.replaceAll(MARK_START, "").replaceAll(MARK_END, "");
}
