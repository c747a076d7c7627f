#!/usr/bin/env python3
"""Summarises a bench/run-e2e.sh work directory: a table on stdout and a JSON
file. Only the standard library."""

import argparse
import glob
import json
import os
import re
import statistics


def load_json(path):
    with open(path) as f:
        return json.loads(f.read().strip().splitlines()[-1])


def parse_h2load(path):
    """req/s and latency (mean, max, in us) from h2load's text report."""
    if not os.path.exists(path):
        return None
    text = open(path).read()
    out = {}
    m = re.search(r"finished in [\d.]+\w+, ([\d.]+) req/s", text)
    if m:
        out["requests_per_second"] = float(m.group(1))
    m = re.search(r"requests: (\d+) total, \d+ started, (\d+) done, "
                  r"(\d+) succeeded, (\d+) failed, (\d+) errored", text)
    if m:
        out["requests"] = int(m.group(1))
        out["succeeded"] = int(m.group(3))
        out["failed"] = int(m.group(4)) + int(m.group(5))

    def us(v, unit):
        return float(v) * {"us": 1, "ms": 1e3, "s": 1e6}[unit]

    m = re.search(r"time for request:\s+([\d.]+)(us|ms|s)\s+([\d.]+)(us|ms|s)"
                  r"\s+([\d.]+)(us|ms|s)", text)
    if m:
        out["min_us"] = us(m.group(1), m.group(2))
        out["max_us"] = us(m.group(3), m.group(4))
        out["mean_us"] = us(m.group(5), m.group(6))
    return out or None


def cpu_per_call(path, result):
    """Server CPU microseconds per answered call in one closed-loop run, from
    the "<ticks> <ticks per second>" file run-e2e.sh wrote beside it."""
    if not os.path.exists(path):
        return None
    ticks, hz = (int(v) for v in open(path).read().split())
    calls = result.get("count", 0) + result.get("unmeasured", 0)
    if ticks <= 0 or hz <= 0 or calls <= 0:
        return None
    return round(ticks / hz * 1e6 / calls, 2)


def server_summary(work, name):
    """Closed-loop runs are {name}.closed.{concurrency}.r{round}.json: a
    server's max is the median over rounds of its best level."""
    runs = {}  # round -> concurrency -> result
    for p in glob.glob(os.path.join(work, f"{name}.closed.*.r*.json")):
        rnd = int(re.search(r"\.r(\d+)\.json$", p).group(1))
        r = load_json(p)
        r["server_cpu_us_per_call"] = cpu_per_call(p[:-len(".json")] + ".cpu",
                                                   r)
        runs.setdefault(rnd, {})[r["concurrency"]] = r
    if not runs:
        return None
    round_best = []
    cpu_by_round = []  # at each round's best level
    for rnd in sorted(runs):
        best = max(runs[rnd].values(), key=lambda r: r["requests_per_second"])
        round_best.append((best["requests_per_second"], best["concurrency"]))
        cpu_by_round.append(best["server_cpu_us_per_call"])
    levels = sorted({c for per in runs.values() for c in per})
    s = {
        "closed": {
            str(c): {
                "requests_per_second_by_round": [
                    runs[rnd][c]["requests_per_second"]
                    for rnd in sorted(runs) if c in runs[rnd]],
                "p99_us_by_round": [
                    runs[rnd][c]["p99_us"]
                    for rnd in sorted(runs) if c in runs[rnd]],
                "errors": sum(runs[rnd][c]["errors"]
                              for rnd in runs if c in runs[rnd]),
            }
            for c in levels
        },
        "max_rps_by_round": [rps for rps, _ in round_best],
        "max_rps": statistics.median(rps for rps, _ in round_best),
        "max_rps_concurrency": statistics.mode(c for _, c in round_best),
        "server_cpu_us_per_call_by_round": cpu_by_round,
        "server_cpu_us_per_call": (
            statistics.median(cpu_by_round)
            if cpu_by_round and None not in cpu_by_round else None),
    }
    open_path = os.path.join(work, f"{name}.open.json")
    if os.path.exists(open_path):
        r = load_json(open_path)
        s["open"] = {k: r[k] for k in ("rate", "requests_per_second",
                                       "p50_us", "p90_us", "p99_us",
                                       "p999_us", "errors")}
    h2 = parse_h2load(os.path.join(work, f"{name}.h2load.txt"))
    if h2:
        s["h2load"] = h2
    return s


def ratio(a, b):
    return round(a / b, 3) if a and b else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--pinning", default="")
    ap.add_argument("--ncpu", type=int, default=0)
    ap.add_argument("--cpu", default="")
    ap.add_argument("--load_before", type=float, default=0)
    ap.add_argument("--load_after", type=float, default=0)
    ap.add_argument("--duration", type=int, default=0)
    ap.add_argument("--rate", type=float, default=0)
    ap.add_argument("--server_preload", default="")
    a = ap.parse_args()

    servers = {}
    for name in ("full", "null", "transport", "before-full", "before-null"):
        s = server_summary(a.work, name)
        if s:
            servers[name] = s
    reload_path = os.path.join(a.work, "full-reload.open.json")
    reload_run = None
    if os.path.exists(reload_path):
        r = load_json(reload_path)
        reload_run = {k: r[k] for k in ("rate", "requests_per_second",
                                        "p50_us", "p99_us", "p999_us",
                                        "errors")}
        count_path = os.path.join(a.work, "reload-count.txt")
        if os.path.exists(count_path):
            txt = open(count_path).read().strip()
            reload_run["reloads_ok"] = int(txt) if txt.isdigit() else None

    def median_ratio(nums, dens):
        """Median over rounds of nums[i] / dens[i], and the per-round
        ratios; rounds without a value or with a zero denominator are left
        out."""
        per = [n / d for n, d in zip(nums, dens) if n is not None and d]
        return (round(statistics.median(per), 3) if per else None,
                [round(v, 3) for v in per])

    def paired(a, b):
        """Median over rounds of a's max / b's max in the same round."""
        return median_ratio(a["max_rps_by_round"], b["max_rps_by_round"])

    def paired_cpu(a, b):
        """Median over rounds of b's CPU per call / a's in the same round:
        the throughput ratio a/b that CPU time alone predicts."""
        return median_ratio(b["server_cpu_us_per_call_by_round"],
                            a["server_cpu_us_per_call_by_round"])

    full, null = servers.get("full"), servers.get("null")
    ratios = {}
    if full and null:
        ratios["max_rps_full_over_null"], ratios[
            "max_rps_full_over_null_by_round"] = paired(full, null)
        ratios["cpu_capacity_full_over_null"], ratios[
            "cpu_capacity_full_over_null_by_round"] = paired_cpu(full, null)
        if "h2load" in full and "h2load" in null:
            ratios["h2load_rps_full_over_null"] = ratio(
                full["h2load"].get("requests_per_second"),
                null["h2load"].get("requests_per_second"))
        if "open" in full and "open" in null:
            ratios["open_p99_full_over_null"] = ratio(full["open"]["p99_us"],
                                                      null["open"]["p99_us"])
    bfull = servers.get("before-full")
    if full and bfull:
        ratios["max_rps_after_over_before"], ratios[
            "max_rps_after_over_before_by_round"] = paired(full, bfull)
        ratios["cpu_capacity_after_over_before"], ratios[
            "cpu_capacity_after_over_before_by_round"] = paired_cpu(full, bfull)
        if "open" in full and "open" in bfull:
            ratios["open_p99_after_over_before"] = ratio(
                full["open"]["p99_us"], bfull["open"]["p99_us"])
        if "h2load" in full and "h2load" in bfull:
            ratios["h2load_rps_after_over_before"] = ratio(
                full["h2load"].get("requests_per_second"),
                bfull["h2load"].get("requests_per_second"))
    bnull = servers.get("before-null")
    if bfull and bnull:
        ratios["before_max_rps_full_over_null"], ratios[
            "before_max_rps_full_over_null_by_round"] = paired(bfull, bnull)
    if full and reload_run and "open" in full:
        ratios["reload_p99_over_steady"] = ratio(reload_run["p99_us"],
                                                 full["open"]["p99_us"])
        ratios["reload_rps_over_steady"] = ratio(
            reload_run["requests_per_second"],
            full["open"]["requests_per_second"])

    transport = servers.get("transport")
    if full and transport:
        ratios["max_rps_full_over_transport"], ratios[
            "max_rps_full_over_transport_by_round"] = paired(full, transport)
        ratios["cpu_capacity_full_over_transport"], ratios[
            "cpu_capacity_full_over_transport_by_round"] = paired_cpu(
                full, transport)
        if "h2load" in full and "h2load" in transport:
            ratios["h2load_rps_full_over_transport"] = ratio(
                full["h2load"].get("requests_per_second"),
                transport["h2load"].get("requests_per_second"))
        if "open" in full and "open" in transport:
            ratios["open_p99_full_over_transport"] = ratio(
                full["open"]["p99_us"], transport["open"]["p99_us"])

    targets = {}
    if "max_rps_full_over_transport" in ratios:
        # Issue 16 item 5: full >= 0.70 of the transport floor, p99 at half
        # load <= 1.25x the floor's.
        targets["max_rps_full_ge_70pct_of_transport"] = (
            ratios["max_rps_full_over_transport"] >= 0.7)
        if ratios.get("open_p99_full_over_transport") is not None:
            targets["open_p99_full_le_1.25x_transport"] = (
                ratios["open_p99_full_over_transport"] <= 1.25)
    if "max_rps_full_over_null" in ratios:
        targets["max_rps_full_ge_80pct_of_null"] = (
            ratios["max_rps_full_over_null"] >= 0.8)
    if ratios.get("cpu_capacity_full_over_null") is not None:
        # The same target estimated from CPU time per call (see run-e2e.sh).
        targets["cpu_capacity_full_ge_80pct_of_null"] = (
            ratios["cpu_capacity_full_over_null"] >= 0.8)
    if full and "open" in full:
        targets["p99_le_2ms_at_half_max"] = full["open"]["p99_us"] <= 2000

    summary = {
        "machine": {"cpu": a.cpu, "ncpu": a.ncpu, "pinning": a.pinning,
                    "loadavg_before": a.load_before,
                    "loadavg_after": a.load_after},
        "scenario": {"candidates": 200, "events": 20,
                     "duration_s": a.duration, "open_loop_rate": a.rate,
                     "server_preload": a.server_preload},
        "servers": servers,
        "reload_under_load": reload_run,
        "ratios": ratios,
        "targets": targets,
    }
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump(summary, f, indent=2, sort_keys=True)
        f.write("\n")

    # The table.
    def ms(us):
        return f"{us / 1000:.2f}" if us is not None else "-"

    rows = [("server", "max rps (median)", "at conc", "cpu us/call",
             "open rps",
             "open errors", "open p50 ms", "open p99 ms", "p99.9 ms",
             "h2load rps", "h2load mean ms")]
    for name, s in servers.items():
        o = s.get("open", {})
        h = s.get("h2load", {})
        cpu = s.get("server_cpu_us_per_call")
        rows.append((name, f"{s['max_rps']:.0f}", str(s["max_rps_concurrency"]),
                     f"{cpu:.1f}" if cpu else "-",
                     f"{o.get('requests_per_second', 0):.0f}",
                     str(o.get("errors", "-")),
                     ms(o.get("p50_us")), ms(o.get("p99_us")),
                     ms(o.get("p999_us")),
                     f"{h.get('requests_per_second', 0):.0f}" if h else "-",
                     ms(h.get("mean_us")) if h else "-"))
    if reload_run:
        rows.append(("full + reload/s", "-", "-", "-",
                     f"{reload_run['requests_per_second']:.0f}",
                     str(reload_run.get("errors", "-")),
                     ms(reload_run["p50_us"]), ms(reload_run["p99_us"]),
                     ms(reload_run["p999_us"]), "-", "-"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for i, r in enumerate(rows):
        print("  ".join(c.rjust(w) for c, w in zip(r, widths)))
        if i == 0:
            print("  ".join("-" * w for w in widths))
    print()
    for name, s in servers.items():
        rounds = ", ".join(f"{v:.0f}" for v in s["max_rps_by_round"])
        print(f"{name}: closed-loop max by round: {rounds}")
    print()
    for k, v in ratios.items():
        print(f"{k:32s} {v}")
    for k, v in targets.items():
        print(f"target {k:25s} {'met' if v else 'NOT met'}")
    print(f"\nmachine: {a.cpu}, {a.ncpu} CPUs, {a.pinning}; load average "
          f"{a.load_before} before, {a.load_after} after")
    if a.server_preload:
        print(f"servers ran with LD_PRELOAD={a.server_preload}")


if __name__ == "__main__":
    main()
