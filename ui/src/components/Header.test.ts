import { afterEach, describe, expect, it } from "vitest";
import { cleanup, render, screen } from "@testing-library/svelte";
import Header from "./Header.svelte";
import { snapshot } from "../test/fixtures";

afterEach(() => cleanup());

describe("Header", () => {
  it("says in words, with the typed cause, that alerts cannot be shown", () => {
    const notifierError = "alerts cannot be shown: no notification service is running on this desktop (events are still stored and shown in the tray and the window)";
    render(Header, { props: { snapshot: snapshot({ notifierError, notifierCause: "noServer" }), onTogglePause: () => {} } });
    const banner = screen.getByTestId("notifier-error");
    expect(banner.textContent).toBe(notifierError);
    expect(banner.dataset.cause).toBe("noServer");
  });

  it("shows no banner while alerts can be shown", () => {
    render(Header, { props: { snapshot: snapshot({}), onTogglePause: () => {} } });
    expect(screen.queryByTestId("notifier-error")).toBeNull();
  });
});
