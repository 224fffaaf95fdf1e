// Windowed rendering of a list of fixed-height rows: only the rows in (and a
// little around) the viewport are in the DOM, the rest is padding.

export type Range = { start: number; end: number; padTop: number; padBottom: number };

/** The rows to render for a viewport at `scrollTop` of height `viewHeight`. */
export function visibleRange(count: number, scrollTop: number, viewHeight: number, rowHeight: number, overscan: number): Range {
  if (count <= 0 || rowHeight <= 0) return { start: 0, end: 0, padTop: 0, padBottom: 0 };
  const top = Math.max(0, scrollTop);
  const first = Math.min(count - 1, Math.floor(top / rowHeight));
  const last = Math.ceil((top + Math.max(0, viewHeight)) / rowHeight);
  const start = Math.max(0, first - overscan);
  const end = Math.min(count, Math.max(first + 1, last) + overscan);
  return { start, end, padTop: start * rowHeight, padBottom: (count - end) * rowHeight };
}

/** The scrollTop that brings row `index` fully into view, or null when it already is. */
export function scrollToReveal(index: number, scrollTop: number, viewHeight: number, rowHeight: number): number | null {
  const top = index * rowHeight;
  const bottom = top + rowHeight;
  if (top < scrollTop) return top;
  if (viewHeight > 0 && bottom > scrollTop + viewHeight) return bottom - viewHeight;
  return null;
}
