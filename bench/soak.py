#!/usr/bin/env python3
"""Soak: rerankd under open-loop load with a reload every few seconds.

Starts its own rerankd on free loopback ports over a copy of a model
directory (two names, so that every reload swaps a new snapshot in),
measures the closed-loop maximum, then runs rerank-loadgen open loop at a
fraction of it for --duration while reloading every --reload_every seconds
and sampling, from /proc and /metrics, the server's resident memory, open
file descriptors, model snapshots in memory and message pool.

Prints one table row (docs/operations.md "Reliability") and a JSON summary,
and exits 1 when a target is missed:
  - zero failed calls (every status OK) and zero failed reloads;
  - open file descriptors flat: once the load has stopped, as many as
    before it started;
  - resident memory flat: the least-squares slope over the samples after the
    first fifth is below --max_rss_slope_kib_per_min;
  - snapshots back to 1 at the end, never above 3 (served, retired, loading);
  - message pool holders never above 64 (its bound).

  bench/soak.py --build=build --model_dir=run/models/demo --duration=600
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Rerankd, finish  # noqa: E402


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--build", default="build", help="CMake build directory")
    p.add_argument("--model_dir", default="run/models/demo",
                   help="model directory to serve (copied)")
    p.add_argument("--config", default="deploy/config/rerankd.json")
    p.add_argument("--duration", type=float, default=600.0, help="seconds")
    p.add_argument("--reload_every", type=float, default=10.0, help="seconds")
    p.add_argument("--sample_every", type=float, default=2.0, help="seconds")
    p.add_argument("--rate", type=float, default=0.0,
                   help="open-loop calls/s; 0: --load_fraction of the max")
    p.add_argument("--load_fraction", type=float, default=0.5)
    p.add_argument("--max_rss_slope_kib_per_min", type=float, default=256.0)
    p.add_argument("--deadline_ms", type=int, default=1000)
    return p.parse_args()


def slope_per_min(points):
    """Least-squares slope of (t seconds, y) in y units per minute."""
    n = len(points)
    if n < 2:
        return 0.0
    mt = sum(t for t, _ in points) / n
    my = sum(y for _, y in points) / n
    var = sum((t - mt) ** 2 for t, _ in points)
    if var == 0:
        return 0.0
    return 60.0 * sum((t - mt) * (y - my) for t, y in points) / var


def main():
    args = parse_args()
    with Rerankd(args.build, args.config, args.model_dir) as server:
        return soak(args, server)


def sample(server, start):
    rss, fds = server.rss_kib_and_fds()
    m = server.metrics()
    return (time.time() - start, rss, fds,
            m.get("rerank_model_snapshots", -1),
            m.get("rerank_message_pool_holders", -1),
            m.get("rerank_message_pool_bytes", -1))


def soak(args, server):
    # Open descriptors with no client connected: what the end must return
    # to. (Samples under load count the load generator's connection, and
    # whether the first sample sees it depends on when it connected.)
    _, idle_fds = server.rss_kib_and_fds()
    rate = args.rate
    max_rps = None
    if rate <= 0:
        max_rps = server.closed_loop_max()
        rate = max_rps * args.load_fraction
    load = server.loadgen(["--mode=open", "--rate=%.1f" % rate,
                           "--duration=%ds" % int(args.duration)],
                          args.deadline_ms)
    start = time.time()
    samples = []  # (t, rss_kib, fds, snapshots, pool_holders, pool_bytes)
    reloads = {"ok": 0, "failed": 0}
    failures = []
    next_reload = start + args.reload_every
    next_sample = start
    name = "b"
    while load.poll() is None:
        now = time.time()
        if now >= next_sample:
            samples.append(sample(server, start))
            next_sample += args.sample_every
        if now >= next_reload and now - start < args.duration - 1:
            ok, err = server.reload(name)
            if ok:
                reloads["ok"] += 1
            else:
                reloads["failed"] += 1
                failures.append("reload %s: %s" % (name, err))
            name = "a" if name == "b" else "b"
            next_reload += args.reload_every
        time.sleep(0.05)
    result = finish(load, "load")
    # Let the last reload's retired snapshot go and the load generator's
    # connection close, then the final sample.
    # (Descriptors are polled from /proc alone: each scrape is a connection
    # of its own for a moment.)
    give_up = time.time() + 10
    while server.metrics().get("rerank_model_snapshots") != 1 and \
            time.time() < give_up:
        time.sleep(0.1)
    while server.rss_kib_and_fds()[1] > idle_fds and time.time() < give_up:
        time.sleep(0.1)
    samples.append(sample(server, start))

    settled = [s for s in samples if s[0] >= args.duration / 5] or samples
    rss_slope = slope_per_min([(s[0], s[1]) for s in settled])
    failed = {k: v for k, v in result["status_codes"].items() if k != "OK"}
    summary = {
        "duration_s": args.duration, "max_rps": max_rps, "rate": rate,
        "calls": result["count"], "ok": result["ok"], "failed": failed,
        "p99_us": result["p99_us"], "reloads": reloads,
        "rss_kib_first": samples[0][1], "rss_kib_last": samples[-1][1],
        "rss_kib_max": max(s[1] for s in samples),
        "rss_slope_kib_per_min": round(rss_slope, 1),
        "fds_idle": idle_fds, "fds_first": samples[0][2],
        "fds_last": samples[-1][2],
        "fds_max": max(s[2] for s in samples),
        "snapshots_max": max(s[3] for s in samples),
        "snapshots_last": samples[-1][3],
        "pool_holders_max": max(s[4] for s in samples),
        "pool_bytes_first": samples[0][5], "pool_bytes_last": samples[-1][5],
        "samples": len(samples),
    }
    if failed:
        failures.append("failed calls: %s" % failed)
    if summary["fds_last"] > idle_fds:
        failures.append("open fds %d idle, %d after the load" %
                        (idle_fds, summary["fds_last"]))
    if rss_slope > args.max_rss_slope_kib_per_min:
        failures.append("RSS slope %.1f KiB/min > %.1f" %
                        (rss_slope, args.max_rss_slope_kib_per_min))
    if summary["snapshots_last"] != 1 or summary["snapshots_max"] > 3:
        failures.append("snapshots max %g, last %g" %
                        (summary["snapshots_max"], summary["snapshots_last"]))
    if summary["pool_holders_max"] > 64:
        failures.append("pool holders %g > 64" % summary["pool_holders_max"])

    print("| `bench/soak.py --duration=%d --reload_every=%g` | open loop %.0f/s"
          "%s, 200 candidates | reload every %g s (%d OK, %d failed) | %d |"
          " %s | RSS %d -> %d KiB (max %d, slope %.1f KiB/min after the"
          " first fifth), fds %d idle -> %d after (max %d), snapshots max %g"
          " last %g,"
          " pool holders max %g |" % (
              args.duration, args.reload_every, rate,
              " (%.2f of the %.0f/s max)" % (args.load_fraction, max_rps)
              if max_rps else "", args.reload_every, reloads["ok"],
              reloads["failed"], result["count"],
              ", ".join("%s %d" % kv for kv in failed.items()) or "none",
              summary["rss_kib_first"], summary["rss_kib_last"],
              summary["rss_kib_max"], rss_slope, idle_fds,
              summary["fds_last"], summary["fds_max"],
              summary["snapshots_max"], summary["snapshots_last"],
              summary["pool_holders_max"]))
    print(json.dumps(summary))
    for f in failures:
        print("soak: FAILED: " + f, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
