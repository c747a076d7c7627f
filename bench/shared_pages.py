#!/usr/bin/python3
"""Do two rerankd replicas on one host share their model's pages?

Starts two rerankd processes serving the very same model directory, first
with the default loading (every file copied into private memory,
`model_copy_max_bytes` unset) and then with every file memory-mapped
(`model_copy_max_bytes: 0`), sends each a few thousand calls, and reads
each process's /proc/PID/smaps_rollup: Rss counts a shared page in full in
every process, Pss divides it among the processes that map it. With mapped
files the two replicas' Pss should each be about half the model plus their
own heap; with copies, each pays the whole model.

  /usr/bin/python3 bench/shared_pages.py --build=build [--model_dir=DIR]
      [--json=OUT.json]

Without --model_dir a synthetic model is generated with
build/bench/micro/model_load_bench --generate (1M users, 200K items, dim 64:
~307 MB of factors), which needs -DRERANK_BUILD_BENCHMARKS=ON.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def model_bytes(model_dir):
    return sum(os.path.getsize(os.path.join(model_dir, f))
               for f in os.listdir(model_dir))


def measure(args, model_dir, config, label):
    with harness.Rerankd(args.build, config, model_dir,
                         shared_dir=model_dir) as a, \
            harness.Rerankd(args.build, config, model_dir,
                            shared_dir=model_dir) as b:
        for server in (a, b):
            server.run_loadgen(["--mode=closed", "--concurrency=4",
                                "--requests=%d" % args.calls,
                                "--warmup=0s"])
        rows = []
        for name, server in (("replica 1", a), ("replica 2", b)):
            mem = server.memory_kib()
            rows.append({"mode": label, "replica": name,
                         "rss_mib": mem["Rss"] / 1024.0,
                         "pss_mib": mem["Pss"] / 1024.0,
                         "shared_mib": (mem.get("Shared_Clean", 0) +
                                        mem.get("Shared_Dirty", 0)) / 1024.0,
                         "private_mib": (mem.get("Private_Clean", 0) +
                                         mem.get("Private_Dirty", 0)) /
                         1024.0})
        return rows


def main(argv):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--build", default=os.path.join(REPO, "build"))
    p.add_argument("--model_dir", default="")
    p.add_argument("--config",
                   default=os.path.join(REPO, "deploy/config/rerankd.json"))
    p.add_argument("--calls", type=int, default=5000,
                   help="Rerank calls per replica before measuring")
    p.add_argument("--json", default="")
    args = p.parse_args(argv)

    work = tempfile.mkdtemp(prefix="rerank-shared-pages-")
    try:
        model_dir = args.model_dir
        if not model_dir:
            model_dir = os.path.join(work, "model")
            gen = os.path.join(args.build, "bench/micro/model_load_bench")
            if not os.path.exists(gen):
                sys.exit(gen + " is missing: build with "
                         "-DRERANK_BUILD_BENCHMARKS=ON or pass --model_dir")
            subprocess.run([gen, "--generate", "--dir=" + model_dir,
                            "--users=1000000", "--items=200000", "--dim=64",
                            "--repeat=1"], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with open(args.config) as f:
            base = json.load(f)
        configs = {}
        for label, copy_max in (("copied (default)", None),
                                ("mapped (model_copy_max_bytes: 0)", 0)):
            cfg = dict(base)
            cfg.pop("model_copy_max_bytes", None)
            if copy_max is not None:
                cfg["model_copy_max_bytes"] = copy_max
            path = os.path.join(work, "config-%d.json" % len(configs))
            with open(path, "w") as f:
                json.dump(cfg, f)
            configs[label] = path
        size_mib = model_bytes(model_dir) / 1048576.0
        rows = []
        for label, config in configs.items():
            rows += measure(args, model_dir, config, label)
        print("model: %s, %.1f MiB of files; two replicas, %d calls each" %
              (model_dir, size_mib, args.calls))
        print("| loading | replica | Rss MiB | Pss MiB | shared MiB | "
              "private MiB |")
        print("|---|---|---:|---:|---:|---:|")
        for r in rows:
            print("| %s | %s | %.1f | %.1f | %.1f | %.1f |" %
                  (r["mode"], r["replica"], r["rss_mib"], r["pss_mib"],
                   r["shared_mib"], r["private_mib"]))
        by_mode = {}
        for r in rows:
            by_mode.setdefault(r["mode"], 0.0)
            by_mode[r["mode"]] += r["pss_mib"]
        for mode, total in by_mode.items():
            print("%s: both replicas together %.1f MiB (Pss sum)" %
                  (mode, total))
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"model_mib": size_mib, "rows": rows,
                           "pss_total_mib": by_mode}, f, indent=1)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1:])
