import { describe, expect, it } from "vitest";
import { describeWindow, isTime, normalizeDays, placeAttentionError, toggleDay, windowError } from "./attention";

describe("attention helpers", () => {
  it("normalizes and toggles days in week order", () => {
    expect(normalizeDays(["sun", "mon", "Mon", "WED", "xyz"])).toEqual(["Mon", "Wed", "Sun"]);
    expect(toggleDay(["Mon", "Fri"], "Wed")).toEqual(["Mon", "Wed", "Fri"]);
    expect(toggleDay(["Mon", "Fri"], "Mon")).toEqual(["Fri"]);
  });

  it("checks times and windows", () => {
    expect(isTime("07:30")).toBe(true);
    expect(isTime("24:00")).toBe(false);
    expect(isTime("7:30")).toBe(false);
    expect(windowError({ days: [], start: "22:00", end: "07:00" })).toContain("day");
    expect(windowError({ days: ["Mon"], start: "", end: "07:00" })).toContain("HH:MM");
    expect(windowError({ days: ["Mon"], start: "22:00", end: "07:00" })).toBeNull();
  });

  it("describes windows", () => {
    expect(describeWindow({ days: ["Mon", "Tue"], start: "22:00", end: "07:00" })).toBe("Mon, Tue 22:00–07:00 (overnight)");
    expect(describeWindow({ days: ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"], start: "12:00", end: "13:00" })).toBe("Every day 12:00–13:00");
    expect(describeWindow({ days: ["Sat"], start: "09:00", end: "09:00" })).toBe("Sat from 09:00, 24 hours");
  });

  it("places refusals", () => {
    expect(placeAttentionError("quiet_hours[2].start: \"25:00\" is not a time of day")).toEqual({ window: 1, field: "start", message: "\"25:00\" is not a time of day" });
    expect(placeAttentionError("coalesce_max: must be 1 to 100")).toEqual({ window: null, field: "coalesce_max", message: "must be 1 to 100" });
    expect(placeAttentionError("Something else")).toEqual({ window: null, field: null, message: "Something else" });
  });
});
