import { describe, expect, it } from "vitest";
import { plain, segments } from "./highlight";

describe("segments", () => {
  it("splits marked words from the text around them", () => {
    expect(segments("the \u0002quarterly\u0003 \u0002report\u0003 is late")).toEqual([
      { text: "the ", mark: false },
      { text: "quarterly", mark: true },
      { text: " ", mark: false },
      { text: "report", mark: true },
      { text: " is late", mark: false },
    ]);
  });

  it("handles no markers, empty strings, adjacent and stray markers", () => {
    expect(segments("plain")).toEqual([{ text: "plain", mark: false }]);
    expect(segments("")).toEqual([]);
    expect(segments("\u0002a\u0003\u0002b\u0003")).toEqual([{ text: "ab", mark: true }]);
    expect(segments("x\u0003y")).toEqual([{ text: "xy", mark: false }]);
    expect(segments("x\u0002y")).toEqual([
      { text: "x", mark: false },
      { text: "y", mark: true },
    ]);
    expect(segments("\u0002\u0003")).toEqual([]);
  });

  it("keeps markup as text", () => {
    expect(segments("<img src=x onerror=alert(1)> \u0002<b>\u0003")).toEqual([
      { text: "<img src=x onerror=alert(1)> ", mark: false },
      { text: "<b>", mark: true },
    ]);
  });

  it("plain drops the markers", () => {
    expect(plain("a \u0002b\u0003 c")).toBe("a b c");
  });
});
