import { afterEach, describe, expect, it, vi } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/svelte";

vi.mock("../lib/ipc", async (importOriginal) => {
  const real = await importOriginal<typeof import("../lib/ipc")>();
  return { ...real, rulesGet: vi.fn(), rulesSet: vi.fn(), rulesTest: vi.fn() };
});

import * as ipc from "../lib/ipc";
import RulesEditor from "./RulesEditor.svelte";

afterEach(() => cleanup());

const DEFAULTS = '[[rules]]\nname = "Urgent subject"\nwhen = { subject_contains = ["[URGENT]"] }\nthen = { tier = "urgent" }\n';

describe("RulesEditor", () => {
  it("loads, saves, and shows a refusal in words", async () => {
    vi.mocked(ipc.rulesGet).mockResolvedValue(DEFAULTS);
    vi.mocked(ipc.rulesSet).mockRejectedValueOnce({
      code: "invalid_argument",
      field: "rules[1].subject_regex",
      message: 'rule 1 "x": subject_regex: unclosed group',
    });
    render(RulesEditor, { selected: null });
    const editor = (await screen.findByTestId("rules-editor")) as HTMLTextAreaElement;
    await waitFor(() => expect(editor.value).toContain("[URGENT]"));
    await fireEvent.input(editor, { target: { value: "broken" } });
    await fireEvent.click(screen.getByTestId("rules-save"));
    await waitFor(() => expect(screen.getByTestId("rules-error").textContent).toContain("subject_regex"));
    expect(ipc.rulesSet).toHaveBeenCalledWith("broken");
    vi.mocked(ipc.rulesSet).mockResolvedValueOnce(undefined);
    await fireEvent.click(screen.getByTestId("rules-save"));
    await waitFor(() => expect(screen.getByTestId("rules-saved")).toBeTruthy());
  });

  it("tests the draft on the selected event, and needs a selection", async () => {
    vi.mocked(ipc.rulesGet).mockResolvedValue(DEFAULTS);
    vi.mocked(ipc.rulesTest).mockResolvedValue({ tier: "urgent", notify: true, sound: null, rule: "Urgent subject" });
    const { rerender } = render(RulesEditor, { selected: null });
    await waitFor(() => expect((screen.getByTestId("rules-editor") as HTMLTextAreaElement).value).toContain("URGENT"));
    expect((screen.getByTestId("rules-test") as HTMLButtonElement).disabled).toBe(true);
    await rerender({ selected: 7 });
    await fireEvent.click(screen.getByTestId("rules-test"));
    await waitFor(() =>
      expect(screen.getByTestId("rules-result").textContent).toBe("Rule “Urgent subject”: urgent, notifies"),
    );
    expect(ipc.rulesTest).toHaveBeenCalledWith(7, DEFAULTS);
  });
});
