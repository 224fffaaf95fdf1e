import { describe, expect, it } from "vitest";
import { scrollToReveal, visibleRange } from "./virtual";

describe("visibleRange", () => {
  it("covers the viewport plus the overscan", () => {
    expect(visibleRange(1000, 0, 100, 10, 5)).toEqual({ start: 0, end: 15, padTop: 0, padBottom: 9850 });
    expect(visibleRange(1000, 500, 100, 10, 5)).toEqual({ start: 45, end: 65, padTop: 450, padBottom: 9350 });
    expect(visibleRange(1000, 9950, 100, 10, 5)).toEqual({ start: 990, end: 1000, padTop: 9900, padBottom: 0 });
  });
  it("copes with empty lists, no viewport and overscroll", () => {
    expect(visibleRange(0, 0, 100, 10, 5)).toEqual({ start: 0, end: 0, padTop: 0, padBottom: 0 });
    expect(visibleRange(3, 0, 0, 10, 0)).toEqual({ start: 0, end: 1, padTop: 0, padBottom: 20 });
    expect(visibleRange(3, 99_999, 100, 10, 1)).toEqual({ start: 1, end: 3, padTop: 10, padBottom: 0 });
    expect(visibleRange(3, -50, 100, 10, 1)).toEqual({ start: 0, end: 3, padTop: 0, padBottom: 0 });
  });
});

describe("scrollToReveal", () => {
  it("scrolls only as far as needed", () => {
    expect(scrollToReveal(5, 0, 100, 10)).toBeNull();
    expect(scrollToReveal(12, 0, 100, 10)).toBe(30);
    expect(scrollToReveal(2, 50, 100, 10)).toBe(20);
    expect(scrollToReveal(2, 0, 0, 10)).toBeNull();
  });
});
