import { describe, expect, it } from "vitest";
import { describeWindow, isTime, normalizeDays, placeAttentionError, toggleDay, windowError } from "./attention";
import type { IpcError } from "./types";

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

  it("places refusals by their field", () => {
    const refusal = (field: string | null, message: string): IpcError => ({ code: "invalid_argument", field, message });
    expect(placeAttentionError(refusal("quiet_hours[2].start", "quiet_hours[2].start: \"25:00\" is not a time of day"))).toEqual({ window: 1, field: "start", message: "\"25:00\" is not a time of day" });
    expect(placeAttentionError(refusal("quiet_hours[1].days", "choose at least one day"))).toEqual({ window: 0, field: "days", message: "choose at least one day" });
    expect(placeAttentionError(refusal("coalesce_max", "coalesce_max: must be 1 to 100"))).toEqual({ window: null, field: "coalesce_max", message: "must be 1 to 100" });
    expect(placeAttentionError(refusal("repeatUrgentSecs", "must be 30 to 86400 seconds"))).toEqual({ window: null, field: "repeat_urgent_secs", message: "must be 30 to 86400 seconds" });
  });

  it("leaves refusals without a known field for the top, as they were said", () => {
    const unplaced = (message: string) => ({ window: null, field: null, message });
    expect(placeAttentionError({ code: "invalid_argument", field: null, message: "Something else" })).toEqual(unplaced("Something else"));
    expect(placeAttentionError({ code: "invalid_argument", message: "coalesce_max: must be 1 to 100" })).toEqual(unplaced("coalesce_max: must be 1 to 100"));
    expect(placeAttentionError({ code: "invalid_argument", field: "sound_file", message: "sound_file: no such file" })).toEqual(unplaced("sound_file: no such file"));
    expect(placeAttentionError({ code: "invalid_argument", field: "quiet_hours[0].start", message: "bad" })).toEqual(unplaced("bad"));
    expect(placeAttentionError({ code: "invalid_argument", field: "quiet_hours", message: "too many windows" })).toEqual(unplaced("too many windows"));
  });
});
