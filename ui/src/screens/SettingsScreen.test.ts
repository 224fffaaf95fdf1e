import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor, within } from "@testing-library/svelte";

vi.mock("../lib/ipc", async (importOriginal) => {
  const real = await importOriginal<typeof import("../lib/ipc")>();
  return {
    ...real,
    attentionGet: vi.fn(),
    attentionSet: vi.fn(),
    retentionGet: vi.fn(),
    retentionSet: vi.fn(),
    autostartEnabled: vi.fn(),
    setAutostart: vi.fn(),
    pause: vi.fn(),
  };
});

import * as ipc from "../lib/ipc";
import SettingsScreen from "./SettingsScreen.svelte";
import { attention, snapshot } from "../test/fixtures";

afterEach(() => cleanup());
beforeEach(() => {
  vi.mocked(ipc.attentionGet).mockReset().mockResolvedValue(attention({ quiet_hours: [{ days: ["mon", "tue"] as never, start: "22:00", end: "07:00" }] }));
  vi.mocked(ipc.attentionSet).mockReset().mockResolvedValue(undefined);
  vi.mocked(ipc.retentionGet).mockReset().mockResolvedValue({ maxAgeDays: 90, maxEvents: null });
  vi.mocked(ipc.retentionSet).mockReset().mockImplementation(async (r) => r);
  vi.mocked(ipc.autostartEnabled).mockReset().mockResolvedValue(false);
  vi.mocked(ipc.setAutostart).mockReset().mockImplementation(async (v) => v);
  vi.mocked(ipc.pause).mockReset();
});

function setup() {
  const onSnapshot = vi.fn();
  render(SettingsScreen, { props: { snapshot: snapshot(), onSnapshot } });
  return { onSnapshot };
}

describe("SettingsScreen", () => {
  it("edits quiet hours and sends them to attention_set", async () => {
    setup();
    const windows = await screen.findAllByTestId("quiet-window");
    expect(windows).toHaveLength(1);
    const first = windows[0]!;
    expect(within(first).getByTestId("day-Mon").getAttribute("aria-pressed")).toBe("true");
    expect(within(first).getByTestId("day-Wed").getAttribute("aria-pressed")).toBe("false");
    expect((screen.getByTestId("attention-save") as HTMLButtonElement).disabled).toBe(true);

    await fireEvent.click(within(first).getByTestId("day-Wed"));
    await fireEvent.click(within(first).getByTestId("day-Mon"));
    await fireEvent.change(within(first).getByTestId("quiet-start"), { target: { value: "21:30" } });
    await fireEvent.click(screen.getByTestId("quiet-add"));
    const second = screen.getAllByTestId("quiet-window")[1]!;
    await fireEvent.click(within(second).getByTestId("day-Mon"));
    await fireEvent.click(within(second).getByTestId("day-Tue"));
    await fireEvent.click(within(second).getByTestId("day-Wed"));
    await fireEvent.click(within(second).getByTestId("day-Thu"));
    await fireEvent.click(within(second).getByTestId("day-Fri"));
    expect(within(second).getByTestId("quiet-error").textContent).toContain("day");
    expect((screen.getByTestId("attention-save") as HTMLButtonElement).disabled).toBe(true);
    await fireEvent.click(within(second).getByTestId("day-Sat"));
    await fireEvent.click(within(second).getByTestId("day-Sun"));
    await fireEvent.change(within(second).getByTestId("quiet-start"), { target: { value: "00:00" } });
    await fireEvent.change(within(second).getByTestId("quiet-end"), { target: { value: "10:00" } });
    await fireEvent.change(screen.getByTestId("quiet-min-tier"), { target: { value: "high" } });
    await fireEvent.input(screen.getByTestId("coalesce-max"), { target: { value: "3" } });
    await fireEvent.click(screen.getByTestId("repeat-urgent"));
    await fireEvent.click(screen.getByTestId("sound"));

    await fireEvent.click(screen.getByTestId("attention-save"));
    expect(ipc.attentionSet).toHaveBeenCalledWith({
      quiet_hours: [
        { days: ["Tue", "Wed"], start: "21:30", end: "07:00" },
        { days: ["Sat", "Sun"], start: "00:00", end: "10:00" },
      ],
      quiet_min_tier: "high",
      coalesce_max: 3,
      coalesce_window_secs: 30,
      repeat_urgent_secs: null,
      notifications_enabled: true,
      sound: false,
    });
    await waitFor(() => expect(screen.getByTestId("attention-saved")).toBeTruthy());
    expect((screen.getByTestId("attention-save") as HTMLButtonElement).disabled).toBe(true);

    // Removing a window and saving sends the rest.
    await fireEvent.click(within(screen.getAllByTestId("quiet-window")[0]!).getByTestId("quiet-remove"));
    await fireEvent.click(screen.getByTestId("attention-save"));
    expect(vi.mocked(ipc.attentionSet).mock.calls[1]![0].quiet_hours).toEqual([{ days: ["Sat", "Sun"], start: "00:00", end: "10:00" }]);
  });

  it("shows a refusal next to the window it names", async () => {
    setup();
    await screen.findAllByTestId("quiet-window");
    await fireEvent.click(screen.getByTestId("sound"));
    vi.mocked(ipc.attentionSet).mockRejectedValueOnce({ code: "invalid_argument", field: "quiet_hours[1].end", message: "quiet_hours[1].end: not a time of day" });
    await fireEvent.click(screen.getByTestId("attention-save"));
    await waitFor(() => expect(screen.getByTestId("quiet-error").textContent).toBe("not a time of day"));
    vi.mocked(ipc.attentionSet).mockRejectedValueOnce({ code: "invalid_argument", field: "coalesce_max", message: "coalesce_max: must be 1 to 100" });
    await fireEvent.click(screen.getByTestId("attention-save"));
    await waitFor(() => expect(screen.getByTestId("error-coalesce_max").textContent).toBe("must be 1 to 100"));
    // Placed by the error's field, never by its text: without one it goes to the top, as said.
    vi.mocked(ipc.attentionSet).mockRejectedValueOnce({ code: "invalid_argument", message: "coalesce_window_secs: must be 1 to 3600" });
    await fireEvent.click(screen.getByTestId("attention-save"));
    await waitFor(() => expect(screen.getByTestId("attention-error").textContent).toBe("coalesce_window_secs: must be 1 to 3600"));
    expect(screen.queryByTestId("error-coalesce_window_secs")).toBeNull();
    vi.mocked(ipc.attentionSet).mockRejectedValueOnce({ code: "internal", message: "could not write attention.toml" });
    await fireEvent.click(screen.getByTestId("attention-save"));
    await waitFor(() => expect(screen.getByTestId("attention-error").textContent).toBe("could not write attention.toml"));
  });

  it("pauses, and shows the state from the snapshot", async () => {
    const { onSnapshot } = setup();
    expect(screen.getByTestId("pause-state").textContent).toBe("Notifications are on");
    expect((screen.getByTestId("pause-resume") as HTMLButtonElement).disabled).toBe(true);
    const paused = snapshot({ paused: true, pausedUntilMs: null });
    vi.mocked(ipc.pause).mockResolvedValue(paused);
    await fireEvent.click(screen.getByTestId("pause-forever"));
    expect(ipc.pause).toHaveBeenCalledWith("forever");
    await waitFor(() => expect(onSnapshot).toHaveBeenCalledWith(paused));
    await fireEvent.click(screen.getByTestId("pause-hour"));
    expect(ipc.pause).toHaveBeenLastCalledWith("hour");
  });

  it("sets retention with keep-forever options, and start at login", async () => {
    setup();
    const keep = (await screen.findByTestId("keep-forever")) as HTMLInputElement;
    expect(keep.checked).toBe(false);
    expect((screen.getByTestId("max-age") as HTMLInputElement).value).toBe("90");
    expect((screen.getByTestId("no-cap") as HTMLInputElement).checked).toBe(true);
    await fireEvent.click(screen.getByTestId("no-cap"));
    await fireEvent.input(screen.getByTestId("max-events"), { target: { value: "50000" } });
    await fireEvent.click(keep);
    await fireEvent.click(screen.getByTestId("retention-save"));
    expect(ipc.retentionSet).toHaveBeenCalledWith({ maxAgeDays: null, maxEvents: 50000 });

    const autostart = screen.getByTestId("autostart") as HTMLInputElement;
    await waitFor(() => expect(autostart.disabled).toBe(false));
    await fireEvent.click(autostart);
    expect(ipc.setAutostart).toHaveBeenCalledWith(true);
  });
});
