#!/usr/bin/env python3
"""Minimises an AFL queue into a small corpus that keeps every edge it covers.

    fuzz/cmin.py AFL_BIN_DIR TARGET_BINARY QUEUE_DIR OUT_DIR [MAX_BYTES]

One afl-showmap run over the whole queue (`-i`, edge coverage only: `-e`), then a
greedy set cover: the file adding the most edges not yet covered next (the smaller
on a tie), until the kept files cover every edge the queue covers. Files over MAX_BYTES (64 KiB)
are left out. Written files are named by the first 16 hex digits of their SHA-1.
Prints: files in, files kept, edges covered.

(`cargo afl cmin` runs AFL++'s Python afl-cmin, which reads no coverage from these
persistent-mode binaries; afl-cmin.bash works but takes minutes per thousand files.)
"""
import hashlib
import heapq
import os
import shutil
import subprocess
import sys
import tempfile


def main():
    afl_bin, binary, queue, out = sys.argv[1:5]
    max_bytes = int(sys.argv[5]) if len(sys.argv) > 5 else 65536
    files = sorted(
        (os.path.join(queue, f) for f in os.listdir(queue) if not f.startswith(".")),
        key=lambda p: (os.path.getsize(p), p),
    )
    files = [f for f in files if os.path.isfile(f) and os.path.getsize(f) <= max_bytes]
    with tempfile.TemporaryDirectory() as tmp:
        inputs = os.path.join(tmp, "in")
        traces = os.path.join(tmp, "traces")
        os.makedirs(inputs)
        names = {}
        for i, f in enumerate(files):
            name = f"{i:06d}"
            shutil.copy(f, os.path.join(inputs, name))
            names[name] = f
        env = dict(os.environ, AFL_QUIET="1")
        r = subprocess.run(
            [os.path.join(afl_bin, "afl-showmap"), "-m", "none", "-t", "5000", "-e", "-i", inputs, "-o", traces, "--", binary],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        if r.returncode not in (0, 1, 2):
            sys.exit(f"afl-showmap failed ({r.returncode}): {r.stderr.decode(errors='replace')[-2000:]}")
        edges_of = {}
        for name, path in names.items():
            t = os.path.join(traces, name)
            if not os.path.exists(t):
                continue  # crashed or timed out: not corpus material
            with open(t) as fh:
                edges_of[path] = {line.split(":")[0] for line in fh if line.strip()}
    every = set().union(*edges_of.values()) if edges_of else set()
    # Greedy set cover, lazily: the file adding the most uncovered edges next (the
    # smaller one on a tie), until every edge is covered.
    heap = [(-len(e), os.path.getsize(p), p) for p, e in edges_of.items()]
    heapq.heapify(heap)
    covered, keep = set(), []
    while heap and len(covered) < len(every):
        neg, size, p = heapq.heappop(heap)
        gain = len(edges_of[p] - covered)
        if gain == 0:
            continue
        if gain < -neg:
            heapq.heappush(heap, (-gain, size, p))
            continue
        keep.append(p)
        covered |= edges_of[p]
    if not keep:
        sys.exit("no coverage read: nothing kept")
    if os.path.isdir(out):
        shutil.rmtree(out)
    os.makedirs(out)
    for p in keep:
        with open(p, "rb") as fh:
            data = fh.read()
        with open(os.path.join(out, hashlib.sha1(data).hexdigest()[:16]), "wb") as fh:
            fh.write(data)
    print(f"{len(files)} files in, {len(keep)} kept, {len(every)} edges covered")


if __name__ == "__main__":
    main()
