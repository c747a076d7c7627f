#!/usr/bin/python3
"""Reloads between two large models under open-loop load; counts failures.

Serves `--root`/`--first` (model_copy_max_bytes 0: mapped, so two models
fit in memory during the swap), offers --rate calls/s with rerank-loadgen
on synthetic ids (user-<i>, item-<i>, as bench/gen_big_model.py writes),
and meanwhile reloads `--second`, then `--first` again. Prints the calls,
their status counts, p99, each reload's time and the server's RSS.

  /usr/bin/python3 bench/reload_big.py --build=build --root=/tmp/rerank-50m \\
      --first=int8 --second=float16 --users=50000000 --items=5000000
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main(argv):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--build", default=os.path.join(REPO, "build"))
    p.add_argument("--root", required=True)
    p.add_argument("--first", required=True)
    p.add_argument("--second", required=True)
    p.add_argument("--users", type=int, required=True)
    p.add_argument("--items", type=int, required=True)
    p.add_argument("--rate", type=int, default=2000)
    p.add_argument("--duration", type=int, default=60)
    a = p.parse_args(argv)

    with open(os.path.join(REPO, "deploy/config/rerankd.json")) as f:
        cfg = json.load(f)
    cfg["model_copy_max_bytes"] = 0
    work = tempfile.mkdtemp(prefix="rerank-reload-big-")
    config = os.path.join(work, "config.json")
    with open(config, "w") as f:
        json.dump(cfg, f)
    t0 = time.monotonic()
    with harness.Rerankd(a.build, config, "",
                         shared_dir=os.path.join(a.root, a.first)) as server:
        print("serving %s after %.1f s" % (a.first, time.monotonic() - t0),
              flush=True)
        load = subprocess.Popen(
            [os.path.join(a.build, "src/loadgen/rerank-loadgen"),
             "--target=127.0.0.1:%d" % server.port,
             "--synthetic_items=%d" % a.items,
             "--synthetic_users=%d" % a.users, "--mode=open",
             "--rate=%d" % a.rate, "--duration=%ds" % a.duration,
             "--deadline_ms=1000", "--warmup=0s", "--json"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        reloads = []

        def reload_twice():
            time.sleep(a.duration / 6)
            for name in (a.second, a.first):
                start = time.monotonic()
                ok, err = server.reload(name, deadline_ms=120000)
                reloads.append((name, ok, time.monotonic() - start, err))
                time.sleep(a.duration / 6)

        th = threading.Thread(target=reload_twice)
        th.start()
        th.join()
        rss, fds = server.rss_kib_and_fds()
        r = harness.finish(load, "open loop")
    for name, ok, seconds, err in reloads:
        print("reload %s: %s in %.1f s %s" % (name, "OK" if ok else "FAILED",
                                              seconds, err if not ok else ""))
    print("calls: %d OK, %d failed %s; p50 %.2f ms, p99 %.2f ms; server "
          "RSS %.0f MiB" % (r["ok"], r["errors"], r["status_codes"],
                            r["p50_us"] / 1000, r["p99_us"] / 1000,
                            rss / 1024))


if __name__ == "__main__":
    main(sys.argv[1:])
