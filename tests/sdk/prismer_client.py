#!/usr/bin/env python3
"""Listens to the emulator's Prismer realtime endpoint with the official `prismer` SDK.

    prismer_client.py BASE_URL KEY [--transport ws|sse] [--conversation ID]
                      [--count N] [--timeout S]

BASE_URL is the emulator's http://127.0.0.1:PORT (also $TOCSIN_EMULATOR_URL), KEY the
token (also $TOCSIN_EMULATOR_KEY). The SDK is pointed at the emulator the way its
users do it, `PrismerClient(api_key, base_url=...)`, and the realtime client comes from
`client.im.realtime.connect_ws(RealtimeConfig(token=...))` (`/ws?token=`) or
`connect_sse(...)` (`/sse?token=`).

WebSocket: connect (the SDK requires `authenticated` as the first frame), `ping()`
(the SDK matches the `pong` by `payload.requestId`), `join_conversation(ID)`, then wait.
SSE: connect (the SDK waits for the `authenticated` data event), then wait.

Prints one JSON line per step and event to stdout:
  {"kind":"authenticated","userId":..}   {"kind":"pong","requestId":..}
  {"kind":"ready","transport":..}         the listener is set up (ws: after the join)
  {"kind":"event","type":"message.new",..} a `message.new` payload, validated with the
                                           SDK's own `MessageNewPayload` model
  {"kind":"error",..} / {"kind":"invalid",..} / {"kind":"timeout",..}
Exit status: 0 after N events, 2 timeout, 3 error, 4 invalid payload.
"""

import argparse
import json
import os
import queue
import sys
import time
import warnings

# PrismerClient warns when a key lacks the "sk-prismer-" prefix; the emulator takes any key.
warnings.filterwarnings("ignore", message=".*API key should start with.*")

from prismer.client import PrismerClient  # noqa: E402
from prismer.realtime import MessageNewPayload, RealtimeConfig  # noqa: E402

EXIT_TIMEOUT, EXIT_ERROR, EXIT_INVALID = 2, 3, 4


def emit(obj):
    print(json.dumps(obj, default=str), flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("base_url", nargs="?", default=os.environ.get("TOCSIN_EMULATOR_URL"))
    p.add_argument("key", nargs="?", default=os.environ.get("TOCSIN_EMULATOR_KEY"))
    p.add_argument("--transport", choices=["ws", "sse"], default="ws")
    p.add_argument("--conversation", default="conv_sdk_test", help="conversation to join (ws)")
    p.add_argument("--count", type=int, default=1, help="exit 0 after this many message.new events")
    p.add_argument("--timeout", type=float, default=20.0)
    args = p.parse_args()
    if not args.base_url or not args.key:
        p.error("BASE_URL and KEY are required (arguments or $TOCSIN_EMULATOR_URL/$TOCSIN_EMULATOR_KEY)")
    deadline = time.monotonic() + args.timeout

    client = PrismerClient(api_key=args.key, base_url=args.base_url.rstrip("/"))
    config = RealtimeConfig(token=args.key, auto_reconnect=False)
    if args.transport == "ws":
        rt = client.im.realtime.connect_ws(config)
    else:
        rt = client.im.realtime.connect_sse(config)

    # The SDK calls listeners on its receive thread and swallows their exceptions:
    # hand everything to this thread through a queue.
    inbox = queue.Queue()
    for name in ("authenticated", "message.new", "error", "disconnected"):
        rt.on(name, lambda payload, name=name: inbox.put((name, payload)))

    try:
        rt.connect()
    except Exception as e:  # ConnectionError("Expected 'authenticated', got 'error'"), refused, ...
        # Anything the server said before the SDK gave up (e.g. AUTH_FAILED on SSE: HTTP 401).
        said = []
        while not inbox.empty():
            said.append(inbox.get_nowait())
        emit({"kind": "error", "error": type(e).__name__, "message": str(e), "events": said})
        return EXIT_ERROR

    got = 0

    def handle(name, payload):
        """One SDK event: prints it; returns an exit status to stop with, or None."""
        nonlocal got
        if name == "authenticated":
            # The server sends only userId (PROTOCOLS.md 4: the SDK's AuthenticatedPayload
            # also declares `username`, which the real server never sends), so no model here.
            user_id = (payload or {}).get("userId")
            emit({"kind": "authenticated", "userId": user_id})
            if not user_id:
                emit({"kind": "invalid", "model": "authenticated", "error": "no userId", "payload": payload})
                return EXIT_INVALID
        elif name == "message.new":
            try:
                m = MessageNewPayload.model_validate(payload)
            except Exception as e:  # pydantic.ValidationError
                emit({"kind": "invalid", "model": "MessageNewPayload", "error": str(e), "payload": payload})
                return EXIT_INVALID
            emit({"kind": "event", "type": "message.new", "id": m.id, "conversation_id": m.conversation_id,
                  "sender_id": m.sender_id, "content": m.content, "content_type": m.type,
                  "metadata": m.metadata, "created_at": m.created_at})
            got += 1
        elif name == "error":
            emit({"kind": "error", "error": "server error", "payload": payload})
            return EXIT_ERROR
        elif name == "disconnected":
            emit({"kind": "error", "error": "disconnected", "payload": payload})
            return EXIT_ERROR
        return None

    try:
        # `authenticated` arrived during connect(): report it first.
        while not inbox.empty():
            rc = handle(*inbox.get_nowait())
            if rc is not None:
                return rc
        if args.transport == "ws":
            pong = rt.ping(timeout=max(0.1, deadline - time.monotonic()))
            emit({"kind": "pong", "requestId": pong.get("requestId")})
            rt.join_conversation(args.conversation)
        emit({"kind": "ready", "transport": args.transport})
        while got < args.count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise queue.Empty
            rc = handle(*inbox.get(timeout=remaining))
            if rc is not None:
                return rc
        return 0
    except (queue.Empty, TimeoutError) as e:
        emit({"kind": "timeout", "received": got, "wanted": args.count, "seconds": args.timeout,
              "during": "ping" if isinstance(e, TimeoutError) else "wait"})
        print(f"prismer_client: timed out after {args.timeout}s with {got}/{args.count} events",
              file=sys.stderr, flush=True)
        return EXIT_TIMEOUT
    finally:
        try:
            rt.disconnect()
        except Exception:
            pass


if __name__ == "__main__":
    sys.exit(main())
