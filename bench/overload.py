#!/usr/bin/env python3
"""Overload: rerankd under open-loop load past its maximum, and after.

Starts its own rerankd (bench/harness.py), measures the closed-loop
maximum, then runs open loop (latency from each call's scheduled time):
  half    --load_fraction of the max for --half_seconds: the reference p99;
  2x, 5x  that multiple of the max for --overload_seconds each, sampling
          the server's resident memory, then at once
  after   half load again for 2 s: the recovery.
Prints one table row per phase (docs/operations.md "Reliability") and a
JSON summary, and checks issue 15's targets:
  - the process stays up, and its resident memory stays below
    --max_rss_mib;
  - refused calls (RESOURCE_EXHAUSTED) come back quickly: their p99 under
    --max_refusal_p99_ms;
  - the p99 of admitted (OK) calls within 5x the half-load p99;
  - within 2 s after the overload: every call OK and the p99 within 2x the
    half-load p99.
Exit status 1 when a target is missed (the table says which).

  bench/overload.py --build=build --model_dir=run/models/demo
"""

import argparse
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Rerankd, finish  # noqa: E402


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--build", default="build")
    p.add_argument("--model_dir", default="run/models/demo")
    p.add_argument("--config", default="deploy/config/rerankd.json")
    p.add_argument("--half_seconds", type=int, default=15)
    p.add_argument("--overload_seconds", type=int, default=30)
    p.add_argument("--factors", default="2,5")
    p.add_argument("--load_fraction", type=float, default=0.5)
    p.add_argument("--deadline_ms", type=int, default=1000)
    p.add_argument("--max_outstanding", type=int, default=10000,
                   help="loadgen: calls in flight beyond this are DROPPED")
    p.add_argument("--max_rss_mib", type=float, default=512.0)
    p.add_argument("--max_refusal_p99_ms", type=float, default=10.0)
    p.add_argument("--server_flag", action="append", default=[],
                   help="extra rerankd flag (repeatable)")
    return p.parse_args()


def open_loop(server, rate, seconds, args, rss=None):
    """Runs the open loop; with `rss` (a list), samples RSS meanwhile."""
    proc = server.loadgen(["--mode=open", "--rate=%.1f" % rate,
                           "--duration=%ds" % seconds,
                           "--max_outstanding=%d" % args.max_outstanding],
                          args.deadline_ms)
    stop = threading.Event()

    def sample():
        while not stop.wait(0.5):
            if server.alive():
                rss.append(server.rss_kib_and_fds()[0])

    sampler = None
    if rss is not None:
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
    result = finish(proc, "open loop at %.0f/s" % rate)
    stop.set()
    if sampler:
        sampler.join()
    return result


def row(phase, rate, r, rss_max_kib=None):
    codes = ", ".join("%s %d" % kv for kv in sorted(r["status_codes"].items()))
    ok, err = r["ok_latency_us"], r["error_latency_us"]
    return ("| %s | %.0f/s | %d | %s | %.0f/s | %.2f ms | %s | %s |" % (
        phase, rate, r["count"], codes, r["requests_per_second"],
        ok["p99"] / 1000.0,
        "%.2f ms" % (err["p99"] / 1000.0) if err["count"] else "-",
        "%.0f MiB" % (rss_max_kib / 1024.0) if rss_max_kib else "-"))


def main():
    args = parse_args()
    with Rerankd(args.build, args.config, args.model_dir,
                 args.server_flag) as server:
        return overload(args, server)


def overload(args, server):
    max_rps = server.closed_loop_max()
    half_rate = max_rps * args.load_fraction
    half = open_loop(server, half_rate, args.half_seconds, args)
    half_p99 = half["ok_latency_us"]["p99"]
    print("| phase | offered | calls | by status | answered | p99 OK |"
          " p99 refused/failed | RSS max |")
    print("|---|---:|---:|---|---:|---:|---:|---:|")
    print(row("half (%.2f of the %.0f/s max)" % (args.load_fraction, max_rps),
              half_rate, half))
    failures = []
    phases = {"max_rps": max_rps, "half": half}
    for factor in [float(f) for f in args.factors.split(",")]:
        rss = []
        over = open_loop(server, factor * max_rps, args.overload_seconds,
                         args, rss)
        after = open_loop(server, half_rate, 2, args)
        rss_max = max(rss) if rss else 0
        print(row("%gx" % factor, factor * max_rps, over, rss_max))
        print(row("2 s after %gx" % factor, half_rate, after))
        phases["%gx" % factor] = over
        phases["after %gx" % factor] = after
        name = "%gx" % factor
        if not server.alive():
            failures.append("%s: the server exited" % name)
            break
        if rss_max / 1024.0 > args.max_rss_mib:
            failures.append("%s: RSS %.0f MiB > %g" %
                            (name, rss_max / 1024.0, args.max_rss_mib))
        refused = over["status_codes"].get("RESOURCE_EXHAUSTED", 0)
        others = {k: v for k, v in over["status_codes"].items()
                  if k not in ("OK", "RESOURCE_EXHAUSTED")}
        if refused == 0:
            failures.append("%s: no call refused with RESOURCE_EXHAUSTED"
                            % name)
        elif over["error_latency_us"]["p99"] / 1000.0 > \
                args.max_refusal_p99_ms:
            failures.append("%s: refusals' p99 %.1f ms > %g ms" % (
                name, over["error_latency_us"]["p99"] / 1000.0,
                args.max_refusal_p99_ms))
        if others:
            failures.append("%s: other failures %s" % (name, others))
        if over["ok_latency_us"]["p99"] > 5 * half_p99:
            failures.append("%s: p99 of admitted calls %.2f ms > 5x %.2f ms"
                            % (name, over["ok_latency_us"]["p99"] / 1000.0,
                               half_p99 / 1000.0))
        if after["ok"] != after["count"] or \
                after["ok_latency_us"]["p99"] > 2 * half_p99:
            failures.append("%s: not recovered 2 s later (%s, p99 %.2f ms)"
                            % (name, after["status_codes"],
                               after["ok_latency_us"]["p99"] / 1000.0))
    print(json.dumps({k: v if not isinstance(v, dict) else {
        "count": v["count"], "status_codes": v["status_codes"],
        "ok_latency_us": v["ok_latency_us"],
        "error_latency_us": v["error_latency_us"],
        "requests_per_second": v["requests_per_second"]}
        for k, v in phases.items()}))
    for f in failures:
        print("overload: target missed: " + f, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
