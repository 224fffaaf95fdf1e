#!/usr/bin/env python3
"""Listens to the emulator's AgentMail WebSocket with the official `agentmail` SDK.

    agentmail_client.py BASE_URL KEY [--inbox ID ...] [--count N] [--timeout S]
                        [--mode async|sync] [--auth header|query]

BASE_URL is the emulator's http://127.0.0.1:PORT (also $TOCSIN_EMULATOR_URL), KEY the
API key (also $TOCSIN_EMULATOR_KEY). The SDK is pointed at the emulator through its
own `AgentMailEnvironment(http=..., websockets="ws://...")`, connects to `/v0`, sends
`Subscribe(inbox_ids=...)` and reads frames through the SDK's parser.

Prints one JSON line per frame to stdout:
  {"kind":"subscribed",...}            the SDK parsed a `Subscribed`
  {"kind":"event","event_type":..,...} the SDK parsed a `MessageReceivedEvent`
  {"kind":"error",...}                 the SDK raised (a 401 is `ApiError`) or the server sent an error frame
  {"kind":"invalid",...}               a frame the SDK's models reject when validated
  {"kind":"timeout",...}               fewer than N events within the timeout
Exit status: 0 after N events, 2 timeout, 3 error, 4 invalid frame.

The SDK parses frames leniently (`construct_type` builds a model even when required
fields are missing), so every frame is validated again, strictly, against the model
the SDK chose: a frame missing a field the SDK declares required fails here.
"""

import argparse
import asyncio
import json
import os
import sys
import threading
import warnings

# websockets >= 14 deprecates the legacy client the async SDK client uses; not ours to fix.
warnings.filterwarnings("ignore", category=DeprecationWarning)

from agentmail import AgentMail, AsyncAgentMail, MessageReceivedEvent  # noqa: E402
from agentmail.core.api_error import ApiError  # noqa: E402
from agentmail.core.pydantic_utilities import parse_obj_as  # noqa: E402
from agentmail.environment import AgentMailEnvironment  # noqa: E402
from agentmail.websockets.types import Error, Subscribe, Subscribed  # noqa: E402

EXIT_TIMEOUT, EXIT_ERROR, EXIT_INVALID = 2, 3, 4


def emit(obj):
    print(json.dumps(obj, default=str), flush=True)


class Done(Exception):
    def __init__(self, code):
        super().__init__(code)
        self.code = code


class Listener:
    """Turns SDK-parsed frames into output lines; raises Done when finished."""

    def __init__(self, want):
        self.want = want
        self.got = 0

    def handle(self, frame):
        if isinstance(frame, (bytes, dict)) or frame is None:
            emit({"kind": "invalid", "model": None, "error": "the SDK could not parse the frame", "frame": repr(frame)})
            raise Done(EXIT_INVALID)
        model = type(frame)
        try:
            # Strict validation of what the SDK built (missing required fields drop out of dict()).
            checked = parse_obj_as(model, frame.dict())
        except Exception as e:  # pydantic.ValidationError
            emit({"kind": "invalid", "model": model.__name__, "error": str(e)})
            raise Done(EXIT_INVALID)
        if isinstance(checked, Subscribed):
            emit({"kind": "subscribed", "inbox_ids": checked.inbox_ids, "pod_ids": checked.pod_ids,
                  "event_types": checked.event_types})
        elif isinstance(checked, MessageReceivedEvent):
            m, t = checked.message, checked.thread
            emit({
                "kind": "event", "event_type": checked.event_type, "event_id": checked.event_id,
                "inbox_id": m.inbox_id, "thread_id": m.thread_id, "message_id": m.message_id,
                "subject": m.subject, "from": m.from_, "to": m.to, "labels": m.labels, "text": m.text,
                "preview": m.preview, "size": m.size, "timestamp": m.timestamp.isoformat(),
                "thread_message_count": t.message_count, "thread_senders": t.senders,
                "thread_last_message_id": t.last_message_id,
            })
            self.got += 1
            if self.got >= self.want:
                raise Done(0)
        elif isinstance(checked, Error):
            emit({"kind": "error", "error": "server error frame", "name": checked.name, "message": checked.message})
            raise Done(EXIT_ERROR)
        else:
            emit({"kind": "other", "model": model.__name__, "frame": checked.dict()})


def report_exception(e):
    if isinstance(e, ApiError):
        emit({"kind": "error", "error": "ApiError", "status_code": e.status_code, "body": e.body})
    else:
        status = getattr(getattr(e, "response", None), "status_code", None)
        emit({"kind": "error", "error": type(e).__name__, "status_code": status, "body": str(e)})
    return EXIT_ERROR


async def run_async(env, args, listener):
    client = AsyncAgentMail(api_key=None if args.auth == "query" else args.key, environment=env)
    connect_kw = {"api_key": args.key} if args.auth == "query" else {}
    async with client.websockets.connect(**connect_kw) as socket:
        await socket.send_subscribe(Subscribe(inbox_ids=args.inbox or None))
        while True:
            listener.handle(await socket.recv())


def run_sync(env, args, listener):
    client = AgentMail(api_key=None if args.auth == "query" else args.key, environment=env)
    connect_kw = {"api_key": args.key} if args.auth == "query" else {}
    with client.websockets.connect(**connect_kw) as socket:
        socket.send_subscribe(Subscribe(inbox_ids=args.inbox or None))
        for frame in socket:
            listener.handle(frame)
    emit({"kind": "error", "error": "closed", "status_code": None, "body": "the server closed the connection"})
    return EXIT_ERROR


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("base_url", nargs="?", default=os.environ.get("TOCSIN_EMULATOR_URL"))
    p.add_argument("key", nargs="?", default=os.environ.get("TOCSIN_EMULATOR_KEY"))
    p.add_argument("--inbox", action="append", default=[], help="inbox id to subscribe to (repeatable)")
    p.add_argument("--count", type=int, default=1, help="exit 0 after this many message events")
    p.add_argument("--timeout", type=float, default=20.0)
    p.add_argument("--mode", choices=["async", "sync"], default="async")
    p.add_argument("--auth", choices=["header", "query"], default="header",
                   help="header: client api_key (Authorization: Bearer); query: connect(api_key=...) (?api_key=)")
    args = p.parse_args()
    if not args.base_url or not args.key:
        p.error("BASE_URL and KEY are required (arguments or $TOCSIN_EMULATOR_URL/$TOCSIN_EMULATOR_KEY)")

    base = args.base_url.rstrip("/")
    ws_base = base.replace("https://", "wss://", 1).replace("http://", "ws://", 1)
    env = AgentMailEnvironment(http=base, websockets=ws_base)
    listener = Listener(args.count)

    def on_timeout():
        emit({"kind": "timeout", "received": listener.got, "wanted": args.count, "seconds": args.timeout})
        print(f"agentmail_client: timed out after {args.timeout}s with {listener.got}/{args.count} events",
              file=sys.stderr, flush=True)
        os._exit(EXIT_TIMEOUT)

    watchdog = threading.Timer(args.timeout, on_timeout)
    watchdog.daemon = True
    watchdog.start()
    try:
        if args.mode == "async":
            asyncio.run(run_async(env, args, listener))
            return EXIT_ERROR  # the loop only ends by Done or an exception
        return run_sync(env, args, listener)
    except Done as d:
        return d.code
    except Exception as e:  # the SDK's ApiError for a refused handshake, or a transport error
        return report_exception(e)
    finally:
        watchdog.cancel()


if __name__ == "__main__":
    sys.exit(main())
