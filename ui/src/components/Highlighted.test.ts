import { afterEach, describe, expect, it } from "vitest";
import { cleanup, render, screen } from "@testing-library/svelte";
import Highlighted from "./Highlighted.svelte";
import EventList from "./EventList.svelte";
import { item } from "../test/fixtures";

afterEach(() => cleanup());

describe("Highlighted", () => {
  it("renders markers as <mark> elements around text", () => {
    const { container } = render(Highlighted, { text: "the \u0002quarterly\u0003 \u0002report\u0003" });
    const marks = [...container.querySelectorAll("mark")].map((m) => m.textContent);
    expect(marks).toEqual(["quarterly", "report"]);
    expect(container.textContent).toBe("the quarterly report");
    expect(container.textContent).not.toMatch(/[\u0002\u0003]/);
  });

  it("keeps a hostile subject as text", () => {
    const payload = "<img src=x onerror=alert(1)>";
    const { container } = render(Highlighted, { text: `\u0002${payload}\u0003 and <script>window.__pwned=1</script>` });
    expect(container.querySelector("img, script")).toBeNull();
    expect(container.querySelector("mark")!.textContent).toBe(payload);
    expect(container.textContent).toContain("<script>window.__pwned=1</script>");
    expect((window as unknown as { __pwned?: number }).__pwned).toBeUndefined();
  });

  it("is used for subject, sender and snippet in the event list", () => {
    const hostile = "<img src=x onerror=alert(1)>";
    render(EventList, {
      props: {
        items: [
          item(1, {
            subject: `Invoice ${hostile}`,
            matches: { subject: `\u0002Invoice\u0003 ${hostile}`, sender: "\u0002billing\u0003@example.com", snippet: "…the \u0002invoice\u0003 is due…" },
          }),
        ],
        ready: true,
        loadingOlder: false,
        exhausted: true,
        onNearEnd: () => {},
      },
    });
    const subject = screen.getByTestId("event-subject");
    expect(subject.querySelector("mark")!.textContent).toBe("Invoice");
    expect(subject.textContent).toBe(`Invoice ${hostile}`);
    expect(screen.getByTestId("event-sender").querySelector("mark")!.textContent).toBe("billing");
    expect(screen.getByTestId("event-sender").title).toBe("billing@example.com");
    expect(screen.getByTestId("event-snippet").textContent).toBe("…the invoice is due…");
    expect(document.querySelector("img")).toBeNull();
  });
});
