#!/usr/bin/env python3
"""What a user would otherwise write: the official `agentmail` SDK's WebSocket client,
and a desktop notification over D-Bus for every urgent message.

    agentmail_notify.py BASE_URL KEY [--inbox ID ...]

The SDK is pointed at BASE_URL (the emulator) through its own
`AgentMailEnvironment(http=..., websockets="ws://...")`, subscribes, and for each
`MessageReceivedEvent` whose subject contains "[URGENT]" or whose labels include
"priority" it calls `org.freedesktop.Notifications.Notify` on the session bus with
jeepney (one connection, opened at start), summary = the subject.

For the benchmark harness (bench/src/bin/e2e.rs) it prints, one line each:
`subscribed`, `progress <frames>` every 1000 messages, and when a message with
"bench-end" in its subject arrives, `done {"frames": N}`. It runs until killed.
"""

import argparse
import json
import sys
import warnings

warnings.filterwarnings("ignore", category=DeprecationWarning)

from agentmail import AgentMail, MessageReceivedEvent  # noqa: E402
from agentmail.environment import AgentMailEnvironment  # noqa: E402
from agentmail.websockets.types import Subscribe, Subscribed  # noqa: E402
from jeepney import DBusAddress, new_method_call  # noqa: E402
from jeepney.io.blocking import open_dbus_connection  # noqa: E402

NOTIFICATIONS = DBusAddress("/org/freedesktop/Notifications", bus_name="org.freedesktop.Notifications",
                            interface="org.freedesktop.Notifications")


def notify(bus, summary, body):
    msg = new_method_call(NOTIFICATIONS, "Notify", "susssasa{sv}i",
                          ("agentmail-notify", 0, "mail-message-new", summary, body, [], {}, -1))
    bus.send_and_get_reply(msg, timeout=5)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("base_url")
    p.add_argument("key")
    p.add_argument("--inbox", action="append", default=[])
    args = p.parse_args()
    base = args.base_url.rstrip("/")
    env = AgentMailEnvironment(http=base, websockets=base.replace("http://", "ws://", 1).replace("https://", "wss://", 1))
    bus = open_dbus_connection(bus="SESSION")
    client = AgentMail(api_key=args.key, environment=env)
    frames = 0
    with client.websockets.connect() as socket:
        socket.send_subscribe(Subscribe(inbox_ids=args.inbox or None))
        for frame in socket:
            if isinstance(frame, Subscribed):
                print("subscribed", flush=True)
                continue
            if not isinstance(frame, MessageReceivedEvent):
                continue
            frames += 1
            m = frame.message
            subject = m.subject or ""
            if "bench-end" in subject:
                print("done " + json.dumps({"frames": frames}), flush=True)
                continue
            if "[URGENT]" in subject.upper() or "priority" in (m.labels or []):
                notify(bus, subject, f"From {m.from_}\n{m.preview or ''}")
            if frames % 1000 == 0:
                print(f"progress {frames}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
