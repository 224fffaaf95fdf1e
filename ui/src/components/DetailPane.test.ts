import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/svelte";

vi.mock("../lib/ipc", async (importOriginal) => {
  const real = await importOriginal<typeof import("../lib/ipc")>();
  return { ...real, historyDetail: vi.fn(), setRead: vi.fn(), openExternal: vi.fn() };
});

import * as ipc from "../lib/ipc";
import DetailPane from "./DetailPane.svelte";
import { detail, item } from "../test/fixtures";

afterEach(() => cleanup());
beforeEach(() => {
  vi.mocked(ipc.historyDetail).mockReset();
  vi.mocked(ipc.setRead).mockReset().mockResolvedValue(undefined);
  vi.mocked(ipc.openExternal).mockReset().mockResolvedValue(undefined);
});

function setup(over: Parameters<typeof detail>[1] = {}) {
  vi.mocked(ipc.historyDetail).mockResolvedValue(detail(7, over));
  const onClose = vi.fn();
  const onReadChange = vi.fn();
  const r = render(DetailPane, { props: { id: 7, onClose, onReadChange } });
  return { ...r, onClose, onReadChange };
}

describe("DetailPane", () => {
  it("shows headers, labels, attachments and the HTML body in a sandboxed frame", async () => {
    setup();
    const frame = (await screen.findByTestId("detail-html")) as HTMLIFrameElement;
    expect(ipc.historyDetail).toHaveBeenCalledWith(7, false);
    expect(frame.tagName).toBe("IFRAME");
    expect(frame.getAttribute("sandbox")).toBe("");
    expect(frame.getAttribute("srcdoc")).toBe("<!doctype html><html><body><p>Hello</p></body></html>");
    expect(frame.getAttribute("referrerpolicy")).toBe("no-referrer");
    expect(frame.title).toBe("Message body");
    expect(screen.getByTestId("detail-subject").textContent).toBe("Quarterly report");
    expect(screen.getByTestId("detail-headers").textContent).toContain("ops@example.com");
    expect(screen.getByTestId("detail-labels").textContent).toContain("important");
    expect(screen.getByTestId("detail-attachments").textContent).toContain("report.pdf");
    expect(screen.getByTestId("detail-attachments").textContent).toContain("application/pdf");
    expect(screen.getByTestId("detail-attachments").textContent).toContain("1.5 KB");
    expect(screen.getByTestId("detail-raw").textContent).toContain('"type": "message.received"');
    expect(screen.queryByTestId("remote-images")).toBeNull();
  });

  it("toggles between HTML and text", async () => {
    setup();
    await screen.findByTestId("detail-html");
    await fireEvent.click(screen.getByTestId("body-text"));
    expect(screen.queryByTestId("detail-html")).toBeNull();
    expect(screen.getByTestId("detail-text").textContent).toBe("Hello,\n  the report is attached.");
    await fireEvent.click(screen.getByTestId("body-html"));
    expect(screen.getByTestId("detail-html")).toBeTruthy();
  });

  it("shows plain text alone when there is no HTML", async () => {
    setup({ html: null });
    expect((await screen.findByTestId("detail-text")).textContent).toContain("the report");
    expect(screen.queryByTestId("body-html")).toBeNull();
    expect(document.querySelector("iframe")).toBeNull();
  });

  it("loads remote images for this event only when asked", async () => {
    setup({ html: { document: "<p>x</p>", remoteImages: 3, remoteLoaded: false } });
    const bar = await screen.findByTestId("remote-images");
    expect(bar.textContent).toContain("3 remote images blocked");
    vi.mocked(ipc.historyDetail).mockResolvedValueOnce(detail(7, { html: { document: "<p>x<img src='data:image/png;base64,AA'></p>", remoteImages: 3, remoteLoaded: true } }));
    await fireEvent.click(screen.getByTestId("load-images"));
    expect(ipc.historyDetail).toHaveBeenLastCalledWith(7, true);
    await waitFor(() => expect(screen.queryByTestId("remote-images")).toBeNull());
    expect(screen.getByTestId("detail-html").getAttribute("srcdoc")).toContain("data:image/png");
  });

  it("marks read and unread through set_read", async () => {
    const { onReadChange } = setup();
    const button = await screen.findByTestId("toggle-read");
    expect(button.textContent).toContain("Mark read");
    await fireEvent.click(button);
    expect(ipc.setRead).toHaveBeenCalledWith(7, true);
    await waitFor(() => expect(screen.getByTestId("toggle-read").textContent).toContain("Mark unread"));
    expect(onReadChange).toHaveBeenCalledWith(7, true);
    await fireEvent.click(screen.getByTestId("toggle-read"));
    expect(ipc.setRead).toHaveBeenLastCalledWith(7, false);
    await waitFor(() => expect(onReadChange).toHaveBeenLastCalledWith(7, false));
  });

  it("opens the web app only when there is a URL, and closes", async () => {
    const { onClose } = setup();
    await fireEvent.click(await screen.findByTestId("open-external"));
    expect(ipc.openExternal).toHaveBeenCalledWith(7);
    await fireEvent.click(screen.getByTestId("detail-close"));
    expect(onClose).toHaveBeenCalled();
    cleanup();
    setup({ webUrl: null });
    await screen.findByTestId("detail-html");
    expect(screen.queryByTestId("open-external")).toBeNull();
  });

  it("keeps hostile fields as text", async () => {
    const hostile = "<img src=x onerror=alert(1)>";
    setup({ item: item(7, { subject: hostile, sender: hostile }), headers: [{ name: "X-Evil", value: hostile }], labels: [hostile], html: null, text: hostile });
    await screen.findByTestId("detail-text");
    expect(document.querySelector("img")).toBeNull();
    expect(screen.getByTestId("detail-subject").textContent).toBe(hostile);
  });

  it("shows an error in words", async () => {
    vi.mocked(ipc.historyDetail).mockRejectedValue({ code: "not_found", message: "event 7 is no longer stored" });
    render(DetailPane, { props: { id: 7, onClose: () => {}, onReadChange: () => {} } });
    expect((await screen.findByTestId("detail-error")).textContent).toContain("no longer stored");
  });
});
