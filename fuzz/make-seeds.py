#!/usr/bin/env python3
"""Writes the seed inputs of every fuzz target into fuzz/seeds/<target>/ from real
material: the frames in the provider crates' tests, the JSON examples of
../shared/PROTOCOLS.md (by section) and ../shared/seeds/, the rules, attention and
config.toml examples in the docs and tests, the HTML sanitiser's own attack list,
the emulator's frames (through `cargo run --example emulator_seeds`), and a few
hand-written inputs for what no file shows (search boxes, topic pairs, bodies).

    python3 fuzz/make-seeds.py        # then scripts/fuzz.sh minimises them into fuzz/corpus/

Seeds are a starting point only: scripts/fuzz.sh keeps what the fuzzer found, minimised,
in fuzz/corpus/<target>/, which is what is committed and replayed by the tests.
"""
import hashlib
import json
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "fuzz", "seeds")
SHARED = os.path.join(os.path.dirname(ROOT), "shared")
MAX = 64 * 1024
count = {}


def put(target, data, prefix="s"):
    if isinstance(data, str):
        data = data.encode()
    if not data or len(data) > MAX:
        return
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    name = f"{prefix}_{hashlib.sha1(data).hexdigest()[:12]}"
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)
    count[target] = count.get(target, 0) + 1


def read(path):
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        return f.read()


def raw_strings(text):
    return [m.group(1) for m in re.finditer(r'r#"(.*?)"#', text, re.S)]


def json_objects(text):
    """Top-level JSON objects found in text (code blocks, one-line frames, pretty ones)."""
    text = "\n".join(l for l in text.splitlines() if not l.strip().startswith("//"))
    dec = json.JSONDecoder()
    out, i = [], 0
    while True:
        i = text.find("{", i)
        if i < 0:
            return out
        try:
            obj, end = dec.raw_decode(text, i)
        except ValueError:
            i += 1
            continue
        if isinstance(obj, dict):
            out.append(obj)
        i = end


def rest_selector(provider, obj):
    """Which rest_bodies parser a JSON body from a test belongs to, if any."""
    data = obj.get("data") if isinstance(obj.get("data"), dict) else {}
    if provider == "agentmail" and "inboxes" in obj:
        return 0
    if provider == "agentmail" and "messages" in obj:
        return 1
    if provider == "prismer" and ("events" in data or "events" in obj):
        return 2
    if provider == "prismer" and ("displayName" in data or "username" in data):
        return 3
    if provider == "prismer" and ("participants" in data or "title" in data):
        return 4
    if provider == "prismer" and "token" in data:
        return 5
    if provider == "daimon" and "result" in obj and "token" in json.dumps(obj["result"]):
        return 6
    if provider == "divinci" and "ticket" in data:
        return 7
    return None


def frame_or_body(provider, obj):
    sel = rest_selector(provider, obj)
    if sel is None:
        put(f"{provider}_frame", json.dumps(obj, ensure_ascii=False))
    else:
        put("rest_bodies", bytes([sel, 0]) + json.dumps(obj, ensure_ascii=False).encode())
        if sel in (6, 7):
            put("rest_bodies", bytes([sel, 4]) + json.dumps(obj).encode())  # the same body with HTTP 401


# ---- provider frames and bodies from the provider crate's tests
sources = {
    "daimon": ["crates/tocsin-providers/src/daimon.rs"],
    "agentmail": ["crates/tocsin-providers/src/agentmail.rs"],
    "divinci": ["crates/tocsin-providers/src/divinci.rs"],
    "bivariant": ["crates/tocsin-providers/src/bivariant.rs"],
    "prismer": [f"crates/tocsin-providers/src/prismer/{f}" for f in ("mod.rs", "tests.rs", "names.rs", "sync.rs")],
}
for provider, files in sources.items():
    for path in files:
        for s in raw_strings(read(path)):
            for obj in json_objects(s):
                frame_or_body(provider, obj)
            if not s.lstrip().startswith("{"):
                continue
            # the literal text too: key order and spacing as the test wrote it
            try:
                obj = json.loads(s)
            except ValueError:
                continue
            if isinstance(obj, dict) and rest_selector(provider, obj) is None:
                put(f"{provider}_frame", s.strip())

# ---- PROTOCOLS.md, section by section, and the shared seed documents
order = ["daimon", "agentmail", "divinci", "prismer", "bivariant"]
if os.path.exists(os.path.join(SHARED, "PROTOCOLS.md")):
    doc = open(os.path.join(SHARED, "PROTOCOLS.md"), encoding="utf-8").read()
    for part in re.split(r"^## ", doc, flags=re.M):
        m = re.match(r"(\d)\. ", part)
        if not m or not 1 <= int(m.group(1)) <= 5:
            continue
        provider = order[int(m.group(1)) - 1]
        for block in re.findall(r"```[a-z]*\n(.*?)```", part, re.S):
            for obj in json_objects(block):
                frame_or_body(provider, obj)
seeds = os.path.join(SHARED, "seeds")
if os.path.isdir(seeds):
    for name in sorted(os.listdir(seeds)):
        m = re.match(r"(\d{3})_", name)
        if not m or int(m.group(1)) > 4:
            continue
        text = open(os.path.join(seeds, name), encoding="utf-8", errors="replace").read()
        for obj in json_objects(text):
            frame_or_body(order[int(m.group(1))], obj)

# ---- HTML: the bodies the frames carry, the sanitiser's attack list, a real-looking mail
html_keys = ("html_body", "html", "body_html", "htmlBody")
for t in order:
    d = os.path.join(OUT, f"{t}_frame")
    for name in sorted(os.listdir(d)) if os.path.isdir(d) else []:
        text = open(os.path.join(d, name), encoding="utf-8").read()
        for k in html_keys:
            for m in re.finditer(r'"%s"\s*:\s*("(?:[^"\\]|\\.)*")' % k, text):
                put("html_sanitiser", json.loads(m.group(1)))
detail = read("crates/tocsin-engine/src/detail.rs")
for m in re.finditer(r'^\s*"((?:[^"\\]|\\.)*<(?:[^"\\]|\\.)*)",$', detail, re.M):
    put("html_sanitiser", json.loads('"' + m.group(1) + '"'))
put("html_sanitiser", """<!DOCTYPE html><html><head><style>p{color:red}</style><title>Invoice</title></head>
<body bgcolor="#fff"><table width="600" cellpadding="0"><tr><td align="center">
<img src="https://track.example/open.gif" width="1" height="1" alt="">
<img src="cid:logo@x" alt="logo"><h1>Your invoice</h1><p>Hello <b>Ada</b>,<br>see <a href="https://pay.example/i/42?x=1&amp;y=2" target="_blank">invoice #42</a>
or <a href="mailto:billing@example.com">write to us</a>.</p><!-- tracking --><ul><li>one<li>two</ul>
<blockquote cite="https://q">quoted</blockquote><pre>  code &lt;x&gt;</pre><img src="data:image/png;base64,iVBORw0KGgo=">
<p style="display:none">hidden</p><font face="Arial" color="red">old</font></td></tr></table></body></html>""")
put("html_sanitiser", '<a href=" jav&#x09;ascript:alert(1)">x</a><a href="JaVaScRiPt&colon;x">y</a><img src=x:y onerror=1><a href=//evil>z</a>')
put("html_sanitiser", "<svg><script>alert(1)</script></svg><noscript><p title=\"</noscript><img src=x onerror=alert(1)>\"></noscript><xmp><script></xmp><textarea><script></textarea>")

# ---- rules
rules_doc = read("crates/tocsin-model/src/rules.rs")
for block in re.findall(r"//! ```toml\n(.*?)//! ```", rules_doc, re.S):
    put("rules_toml", "\n".join(l[4:] if l.startswith("//! ") else l[3:] for l in block.splitlines()) + "\n")
for s in raw_strings(read("crates/tocsin-model/src/rules/tests.rs")):
    if "[[rules]]" in s or "when" in s:
        put("rules_toml", s)
put("rules_toml", '[[rules]]\nname = "re"\nwhen = { subject_regex = "(?i)^\\\\[(urgent|p1)\\\\]", text_regex = "deploy(ed)? failed" }\nthen = { tier = "high", notify = true }\n')
put("rules_toml", '[[rules]]\nname = "dup"\nwhen = { always = true }\nthen = { tier = "low" }\n[[rules]]\nname = " DUP "\nenabled = false\nwhen = {}\nthen = { tier = "urgent", notify = false, sound = "bell" }\n')
for c in [
    "(?i)urgent\n[URGENT] build\n@example.com\nada@mail.example.com\nmessage.*.spam\nmessage.received.spam\nevents.*.ci.>\nevents.org_1.ci.run.failed.r1\nURGENT",
    "^\\d{3}-\\w+$\n123-abc\n*@*.example.com\nbot-7@ci.example.com\n*.bounced\nmessage.bounced\nevents.org_1.*.*.*.*\nevents.org_1.a.b.c.d\n\u212a",
    "(a|b)*c{2,5}[^x-z]\\b\nabccc\nbot-?@x.io\nAda <bot-1@x.io>\nmessage.received\nmessage.received\nevents.>\nevents\nstraße",
]:
    put("rule_conditions", c)

# ---- attention
att = read("crates/tocsin-engine/src/attention.rs")
for block in re.findall(r"/// ```toml\n(.*?)/// ```", att, re.S):
    put("attention_toml", "\n".join(l.strip()[4:] for l in block.splitlines()) + "\n")
for s in raw_strings(att):
    put("attention_toml", s)
put("attention_toml", 'quiet_min_tier = "high"\ncoalesce_max = 3\ncoalesce_window_secs = 60\nrepeat_urgent_secs = 300\nnotifications_enabled = true\nsound = false\n[[quiet_hours]]\ndays = ["Mon", "tuesday", "sat"]\nstart = "9:30"\nend = "9:30"\n[[quiet_hours]]\ndays = ["sun"]\nstart = "23:59"\nend = "00:00"\n')

# ---- config.toml
readme = read("README.md")
for block in re.findall(r"```toml\n(.*?)```", readme, re.S):
    if "[[accounts]]" in block:
        put("config_toml", block)
        for acc in block.split("[[accounts]]")[1:]:
            put("config_toml", "[[accounts]]" + acc)
for path in ["crates/tocsin-engine/src/config.rs"]:
    for s in raw_strings(read(path)):
        if "[[accounts]]" in s:
            put("config_toml", s)
put("config_toml", '[[accounts]]\nname = "bus"\nprovider = "bivariant"\nurl = "nats://127.0.0.1:4222"\ntopics = ["events.org_1.>"]\nmax_events_per_sec = 50\n[[accounts]]\nname = "q"\nprovider = "agentmail"\nurl = "ws://127.0.0.1:9/v0"\nauth = "query"\nauth_param = "auth_token"\nca_file = "/etc/ca.pem"\nrest_url = "http://127.0.0.1:9"\npods = ["p1"]\n[accounts.backoff]\nbase_ms = 1\ncap_ms = 18446744073709551615\nmax_attempts = 4294967295\nstable_after_ms = 0\n')

# ---- search
for q in ["deploy", "deplo*", '"invoice 42" paid', "AND OR NOT", "a", "a*", "東京 invoice", "Straße café",
          "-x col:val ^start", "NEAR(a b, 3)", 'x*y "unbalanced', "\u0000\u0007 tab\tword", "ﬁle ǅ İstanbul",
          " ".join(f"w{i}" for i in range(20)), "***", "--", "e\u0301clair"]:
    put("search_query", q)

# ---- topic patterns (pattern \n subject)
for p, s in [
    ("events.org_123.conversations.conversation.message_posted.*", "events.org_123.conversations.conversation.message_posted.conv_1"),
    ("events.org_123.tasks.>", "events.org_123.tasks.task.created.t1"),
    ("events.*.apps.app.event_received.app_456", "events.org_1.apps.app.event_received.app_456"),
    ("events.>", "events"),
    ("events.org_1.a.b.c.d", "events.org_1.a.b.c.d.e"),
    ("events..x.>", "events..x.y"),
    ("events.org_1.*.>.x", "events.org_1.a.b.x"),
]:
    put("topic_patterns", f"{p}\n{s}")

# ---- REST bodies the tests do not show
for sel, body in [
    (0, {"inboxes": [{"inbox_id": "agent@agentmail.to"}, {"inbox_id": "b@x.to"}], "next_page_token": "tok/1"}),
    (1, {"messages": [{"message_id": "m1", "inbox_id": "agent@agentmail.to", "thread_id": "t1", "from": "Ada <ada@example.com>",
                       "subject": "hi", "text": "body", "html": "<p>body</p>", "labels": ["received"], "timestamp": "2026-03-16T10:30:45Z",
                       "attachments": [{"attachment_id": "a1", "filename": "x.pdf", "size": 10}]}], "next_page_token": ""}),
    (2, {"ok": True, "data": {"events": [{"seq": 42, "type": "message.new", "data": {"id": "m1", "conversationId": "conv_dm",
         "senderId": "usr_other", "content": "hi"}, "at": "2026-03-16T10:30:45Z"}], "cursor": 42, "hasMore": False}}),
    (2, {"ok": False, "error": "expired"}),
    (3, {"ok": True, "data": {"id": "usr_other", "displayName": "Ada", "username": "ada"}}),
    (4, {"ok": True, "data": {"id": "conv_dm", "type": "direct", "title": None,
         "participants": [{"user": {"id": "usr_self", "displayName": "Me"}}, {"user": {"id": "usr_other", "username": "ada"}}]}}),
    (6, {"result": {"token": "wsct_1", "expires_at": "2026-03-16T11:00:00Z"}}),
    (6, {"error": "invalid key"}),
    (7, {"data": {"ticket": "tkt_1"}}),
    (7, {"error": {"code": "unauthorized", "message": "bad key"}}),
]:
    for status in (0, 4, 8):
        put("rest_bodies", bytes([sel, status]) + json.dumps(body, ensure_ascii=False).encode())
put("rest_bodies", bytes([2, 0]) + b"\xff\xfe not json")

# ---- dictionaries (fuzz/dict/<target>.dict): the words each parser looks for
DICT = os.path.join(ROOT, "fuzz", "dict")
os.makedirs(DICT, exist_ok=True)


def code_of(path):
    text = read(path)
    return text.split("#[cfg(test)]")[0]


def write_dict(target, words, quote):
    words = sorted({w for w in words if 1 < len(w) <= 40})
    with open(os.path.join(DICT, f"{target}.dict"), "w") as f:
        f.write(f"# {target}: made by fuzz/make-seeds.py from the parser's source\n")
        for w in words:
            token = f'"{w}"' if quote else w
            f.write('"' + token.replace("\\", "\\\\").replace('"', '\\"') + '"\n')


literal = re.compile(r'"([A-Za-z_@$][A-Za-z0-9_.:/@$-]*)"')
for provider, files in sources.items():
    words = set()
    for path in files + ["crates/tocsin-providers/src/json.rs", "crates/tocsin-providers/src/time.rs"]:
        words |= set(literal.findall(code_of(path)))
    write_dict(f"{provider}_frame", words, True)
    put_words = words
words = set()
for path in sum(sources.values(), []):
    words |= set(literal.findall(code_of(path)))
write_dict("rest_bodies", words, True)
fields = lambda path: set(re.findall(r"^\s*pub (\w+):", code_of(path), re.M))
write_dict("rules_toml", fields("crates/tocsin-model/src/rules.rs") | {"rules", "[[rules]]", "when", "then", "urgent", "high", "normal", "low",
           "message_received", "message_bounced", "daimon", "agentmail", "divinci", "prismer", "bivariant", "true", "false"}, False)
write_dict("attention_toml", fields("crates/tocsin-engine/src/attention.rs") | {"[[quiet_hours]]", "mon", "tuesday", "Sun", "22:00", "07:00", "urgent", "high"}, False)
write_dict("config_toml", fields("crates/tocsin-engine/src/config.rs") | {"[[accounts]]", "[accounts.backoff]", "bearer", "query", "frame", "token",
           "wss://", "ws://", "nats://", "tls://", "/ws/chat/", "/ws/notifications", "events.", ".>", ".*", "daimon", "agentmail", "divinci", "prismer", "bivariant"}, False)
write_dict("search_query", {"AND", "OR", "NOT", "NEAR", "*", '"', "^", ":", "-", "+", "(", ")", "{", "}", "subject", "sender", "body_text"}, False)
write_dict("topic_patterns", {"events.", ".*", ".>", "*", ">", "..", "org_1", "\n"}, False)

# ---- the emulator's frames, JWTs and exported defaults (Rust)
r = subprocess.run(["cargo", "run", "-q", "-p", "tocsin-fuzz", "--example", "emulator_seeds", "--", OUT], cwd=ROOT)
if r.returncode != 0:
    sys.exit("emulator_seeds failed")
for t in sorted(os.listdir(OUT)):
    print(f"{t}: {len(os.listdir(os.path.join(OUT, t)))} seeds")
