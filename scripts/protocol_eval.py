#!/usr/bin/python3
"""End-to-end ranking-quality check of a running rerankd over gRPC.

Implements the evaluation protocol of issue 13 on the raw UCI "Online
Retail" file, trains a model (or takes one), starts rerankd on free loopback
ports, sends one Rerank call per held-out case and ranking variant, and
reports NDCG@10 of the held-out item.

Protocol
--------
Data (the raw online_retail.csv.gz, columns
InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,
Country):
  * one interaction per purchase line; only customer rows (CustomerID
    present), Quantity > 0, not cancelled (InvoiceNo not starting with "C");
  * user = CustomerID as an integer string ("17850.0" -> "17850"),
    item = StockCode stripped and upper-cased (all stock codes are kept: the
    protocol does not filter non-product codes such as POST),
    time = InvoiceDate to the second, read as UTC (as rerank-train reads
    zone-less times);
  * deduplicated on (user, item, second): the first line in the file wins.
Split:
  * each user's interactions are sorted by time, ties in file order;
  * a user with >= 5 interactions before the last one is a case: the last
    interaction is the target and is left out of training;
  * the training log is every interaction except the targets.
Lists (one per case):
  * popularity = number of training rows per item, ties by item id;
  * candidates = the target plus the 100 most popular training items the
    user never touched (in training or as the target), in popularity order
    (the target at its own popularity position, count 0 if it never occurs
    in training);
  * base_score = log(1 + count) / log(1 + max count);
  * events = the user's last 10 interactions before the target, type
    EVENT_TYPE_PURCHASE, real timestamps; now_ms = the target's time;
  * metric: NDCG@10 of the target = 1 / log2(rank + 1) if rank <= 10 else 0
    (rank 1-based); HR@10 = rank <= 10.
Variants, on the same lists:
  popularity         the lists' own order (no call)
  default            RerankRequest.ranker unset (config, else model default)
  formula            ranker = RANKER_KIND_FORMULA
  formula base_w=0   formula with overrides.base_weight = 0
  linear / gbdt      ranker = RANKER_KIND_LINEAR / _GBDT, when the model has
                     them (ModelAdmin.GetModelInfo.rankers; a
                     FAILED_PRECONDITION answer also skips the variant)
Each NDCG@10 has a 95% percentile bootstrap interval over cases (1000
resamples, seeded), and the paired difference default - formula has one too.

Usage
-----
  scripts/protocol_eval.py --bin_dir=build/src [--max_cases=300]
      [--work_dir=DIR] [--model_dir=DIR] [--train_args="--ranker=formula"]
      [--json=OUT.json] [--user_vectors=EXPORT_DIR]

Steps: (1) writes the training log <work_dir>/train.csv (header
user_id,item_id,event_type,timestamp; event_type purchase; ISO 8601
timestamps); (2) unless --model_dir is given, runs
  <bin_dir>/tools/rerank-train --log=<work_dir>/train.csv
      --out=<work_dir>/model --model_version=protocol --seed=42 --threads=2
      <train_args>
(3) starts <bin_dir>/server/rerankd with --config (default
deploy/config/rerankd.json), waits for its health service to report
SERVING, and always stops it at the end (its stderr is kept in
<work_dir>/rerankd.log and printed on failure); (4) sends the Rerank calls,
--parallel at a time; (5) prints the table and intervals, and writes them to
--json. --max_cases=N evaluates a seeded random sample of N cases (0: all).
Python 3 with grpcio, protobuf and numpy; protoc generates the message
classes at run time.
"""

import argparse
import calendar
import collections
import concurrent.futures
import csv
import datetime
import gzip
import io
import json
import math
import os
import random
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NUM_CANDIDATES = 100   # popular fill besides the target
NUM_EVENTS = 10        # events before the target
MIN_HISTORY = 5        # interactions before the target
CUTOFF = 10            # @10


def parse_args(argv):
    p = argparse.ArgumentParser(
        description="Issue 13 protocol: NDCG@10 through a running rerankd",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--input", default=os.path.join(
        os.path.dirname(REPO), "shared/datasets/online-retail/"
        "online_retail.csv.gz"), help="raw UCI online_retail.csv(.gz)")
    p.add_argument("--bin_dir", default=os.path.join(REPO, "build/src"),
                   help="build directory's src/ (tools/, server/)")
    p.add_argument("--work_dir", default="",
                   help="where the log, model and server log go "
                        "(default: a temporary directory, removed on "
                        "success)")
    p.add_argument("--model_dir", default="",
                   help="serve this model instead of training one")
    p.add_argument("--train_args", default="",
                   help="extra rerank-train flags (shell-split)")
    p.add_argument("--config", default=os.path.join(
        REPO, "deploy/config/rerankd.json"), help="rerankd config")
    p.add_argument("--proto_dir", default=os.path.join(REPO, "proto"),
                   help="directory holding rerank/v1/*.proto")
    p.add_argument("--max_cases", type=int, default=0,
                   help="evaluate a seeded random sample of this many cases "
                        "(0: all)")
    p.add_argument("--seed", type=int, default=42,
                   help="seed of the case sample and of the bootstrap")
    p.add_argument("--bootstrap", type=int, default=1000,
                   help="bootstrap resamples")
    p.add_argument("--parallel", type=int, default=8,
                   help="Rerank calls in flight")
    p.add_argument("--startup_timeout", type=float, default=120.0,
                   help="seconds to wait for rerankd to serve")
    p.add_argument("--json", default="", help="also write the figures here")
    p.add_argument("--user_vectors", default="",
                   help="a rerank-train --export_user_factors directory: "
                   "send each case's user row as RerankRequest.user_vector "
                   "(e.g. against an --items_only model)")
    args = p.parse_args(argv)
    if args.max_cases < 0:
        p.error("--max_cases must be >= 0")
    if args.parallel < 1:
        p.error("--parallel must be >= 1")
    return args


def die(message):
    sys.exit(f"protocol_eval: {message}")


# ---------------------------------------------------------------------------
# Protocol data
# ---------------------------------------------------------------------------

def parse_time(text):
    """InvoiceDate -> Unix seconds (UTC), to the second."""
    text = text.strip()
    try:
        dt = datetime.datetime.fromisoformat(text)
    except ValueError:
        # Some copies of the data set use "12/1/2010 8:26".
        dt = datetime.datetime.strptime(text, "%m/%d/%Y %H:%M")
    return calendar.timegm(dt.replace(microsecond=0).timetuple())


def read_interactions(path):
    """{user: [(time_s, item)]} sorted by time, ties in file order."""
    if not os.path.exists(path):
        die(f"input {path} does not exist")
    raw = gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb")
    stats = collections.Counter()
    seen = set()
    by_user = collections.defaultdict(list)
    with io.TextIOWrapper(raw, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        need = {"InvoiceNo", "StockCode", "Quantity", "InvoiceDate",
                "CustomerID"}
        missing = need - set(reader.fieldnames or [])
        if missing:
            die(f"{path}: missing columns {sorted(missing)}")
        for row in reader:
            stats["rows"] += 1
            customer = row["CustomerID"].strip()
            if not customer:
                stats["dropped: no CustomerID"] += 1
                continue
            if row["InvoiceNo"].strip().upper().startswith("C"):
                stats["dropped: cancellation"] += 1
                continue
            if int(row["Quantity"]) <= 0:
                stats["dropped: quantity <= 0"] += 1
                continue
            user = str(int(float(customer)))
            item = row["StockCode"].strip().upper()
            t = parse_time(row["InvoiceDate"])
            key = (user, item, t)
            if key in seen:
                stats["dropped: duplicate (user, item, second)"] += 1
                continue
            seen.add(key)
            by_user[user].append((t, item))
    for rows in by_user.values():
        rows.sort(key=lambda r: r[0])  # stable: ties keep file order
    stats["interactions"] = sum(len(v) for v in by_user.values())
    stats["users"] = len(by_user)
    return by_user, stats


def build_cases(by_user):
    """(cases, training rows, item counts). A case is a dict with user,
    target, time_s, candidates [(item, count)] in popularity order and
    events [(item, time_s)]."""
    targets = {}
    for user, rows in by_user.items():
        if len(rows) - 1 >= MIN_HISTORY:
            targets[user] = rows[-1]
    counts = collections.Counter()
    for user, rows in by_user.items():
        train = rows[:-1] if user in targets else rows
        for _, item in train:
            counts[item] += 1
    popular = sorted(counts, key=lambda i: (-counts[i], i))
    max_count = max(counts.values())
    cases = []
    for user in sorted(targets, key=lambda u: (len(u), u)):
        rows = by_user[user]
        t, target = targets[user]
        touched = {item for _, item in rows}  # training items and the target
        fill = []
        for item in popular:
            if item not in touched:
                fill.append(item)
                if len(fill) == NUM_CANDIDATES:
                    break
        items = sorted(fill + [target], key=lambda i: (-counts[i], i))
        cases.append({
            "user": user,
            "target": target,
            "time_s": t,
            "candidates": [(i, counts[i]) for i in items],
            "events": [(item, et) for et, item in rows[:-1][-NUM_EVENTS:]],
        })
    return cases, targets, counts, max_count


def write_training_log(by_user, targets, path):
    rows = []
    for user, user_rows in by_user.items():
        train = user_rows[:-1] if user in targets else user_rows
        rows.extend((t, user, item) for t, item in train)
    rows.sort(key=lambda r: r[0])
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["user_id", "item_id", "event_type", "timestamp"])
        for t, user, item in rows:
            iso = datetime.datetime.fromtimestamp(
                t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
            w.writerow([user, item, "purchase", iso])
    return len(rows)


# ---------------------------------------------------------------------------
# Binaries, protos, server
# ---------------------------------------------------------------------------

def binary(bin_dir, rel):
    path = os.path.join(bin_dir, rel)
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        die(f"{path} is missing or not executable (build it, or pass "
            f"--bin_dir=<build>/src)")
    return path


def load_protos(proto_dir, out_dir):
    if shutil.which("protoc") is None:
        die("protoc is not on PATH")
    files = [os.path.join(proto_dir, "rerank/v1", name)
             for name in ("rerank.proto", "config.proto", "ranker.proto")]
    for f in files:
        if not os.path.exists(f):
            die(f"{f} does not exist (--proto_dir)")
    os.makedirs(out_dir, exist_ok=True)
    run = subprocess.run(["protoc", f"--python_out={out_dir}",
                          f"-I{proto_dir}"] + files,
                         capture_output=True, text=True)
    if run.returncode != 0:
        die(f"protoc failed:\n{run.stderr}")
    sys.path.insert(0, out_dir)
    from rerank.v1 import rerank_pb2  # noqa: E402 (generated just now)
    return rerank_pb2


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def health_serving(channel, timeout):
    """True when grpc.health.v1 reports SERVING for the server ("")."""
    import grpc
    check = channel.unary_unary(
        "/grpc.health.v1.Health/Check",
        request_serializer=lambda _: b"",   # HealthCheckRequest{service: ""}
        response_deserializer=lambda b: b)
    try:
        reply = check(None, timeout=timeout)
    except grpc.RpcError:
        return False
    return reply == b"\x08\x01"  # status = SERVING


class Server:
    def __init__(self, rerankd, config, model_dir, work_dir):
        self.target = f"127.0.0.1:{free_port()}"
        self.admin = f"127.0.0.1:{free_port()}"
        self.log_path = os.path.join(work_dir, "rerankd.log")
        model_dir = os.path.abspath(model_dir)
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [rerankd, f"--config={config}", f"--listen={self.target}",
             f"--admin_listen={self.admin}", "--metrics_listen=off",
             f"--model_root={os.path.dirname(model_dir)}",
             f"--initial_model={os.path.basename(model_dir)}"],
            stdout=subprocess.DEVNULL, stderr=self.log)

    def log_text(self):
        if not self.log.closed:
            self.log.flush()
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def wait_serving(self, channel, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"rerankd exited with {self.proc.returncode}")
            if health_serving(channel, 1.0):
                return
            time.sleep(0.05)
        raise RuntimeError(f"rerankd did not serve within {timeout}s")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


# ---------------------------------------------------------------------------
# Evaluation
# ---------------------------------------------------------------------------

def ndcg_hit(rank):
    """rank 1-based, None when absent."""
    if rank is None or rank > CUTOFF:
        return 0.0, 0.0
    return 1.0 / math.log2(rank + 1), 1.0


def read_user_vectors(export_dir):
    """{user id: list of floats} from a --export_user_factors directory."""
    factors = np.load(os.path.join(export_dir, "user_factors.npy"))
    with open(os.path.join(export_dir, "user_ids.txt"), encoding="utf-8") as f:
        ids = f.read().split("\n")[:-1]
    if factors.ndim != 2 or factors.shape[0] != len(ids):
        die(f"{export_dir}: user_factors.npy shape {factors.shape} does not "
            f"match {len(ids)} ids")
    return {u: factors[r].tolist() for r, u in enumerate(ids)}


def make_request(pb, case, base_norm, variant, user_vectors=None):
    req = pb.RerankRequest(request_id=f"protocol-{case['user']}",
                           user_id=case["user"],
                           now_ms=case["time_s"] * 1000)
    if user_vectors is not None and case["user"] in user_vectors:
        req.user_vector.extend(user_vectors[case["user"]])
    for item, count in case["candidates"]:
        req.candidates.add(item_id=item,
                           base_score=math.log1p(count) / base_norm)
    for item, t in case["events"]:
        req.events.add(item_id=item, type=pb.EVENT_TYPE_PURCHASE,
                       timestamp_ms=t * 1000)
    ranker, overrides = variant
    if ranker:
        req.ranker = getattr(pb, ranker)
    for name, value in overrides.items():
        setattr(req.overrides, name, value)
    return req


class Skip(Exception):
    pass


def run_variant(pb, channel, cases, base_norm, variant, parallel,
                user_vectors=None):
    import grpc
    rerank = channel.unary_unary(
        "/rerank.v1.Reranker/Rerank",
        request_serializer=pb.RerankRequest.SerializeToString,
        response_deserializer=pb.RerankResponse.FromString)

    def one(case):
        req = make_request(pb, case, base_norm, variant, user_vectors)
        try:
            resp = rerank(req, timeout=30)
        except grpc.RpcError as e:
            if e.code() == grpc.StatusCode.FAILED_PRECONDITION:
                raise Skip(e.details())
            raise RuntimeError(
                f"Rerank for user {case['user']} failed: {e.code().name}: "
                f"{e.details()}")
        if len(resp.items) != len(case["candidates"]):
            raise RuntimeError(
                f"user {case['user']}: {len(resp.items)} items back for "
                f"{len(case['candidates'])} candidates")
        ids = [it.item_id for it in resp.items]
        rank = ids.index(case["target"]) + 1
        return rank, pb.RankerKind.Name(resp.ranker)

    with concurrent.futures.ThreadPoolExecutor(parallel) as pool:
        results = list(pool.map(one, cases))
    return [r for r, _ in results], collections.Counter(k for _, k in results)


def model_rankers(pb, admin_channel):
    info = admin_channel.unary_unary(
        "/rerank.v1.ModelAdmin/GetModelInfo",
        request_serializer=pb.GetModelInfoRequest.SerializeToString,
        response_deserializer=pb.ModelInfo.FromString)(
            pb.GetModelInfoRequest(), timeout=10)
    return info


def bootstrap(values, idx):
    means = values[idx].mean(axis=1)
    lo, hi = np.percentile(means, [2.5, 97.5])
    return float(lo), float(hi)


def main(argv):
    args = parse_args(argv)
    started = time.monotonic()
    bin_dir = os.path.abspath(args.bin_dir)
    rerankd = binary(bin_dir, "server/rerankd")
    trainer = None if args.model_dir else binary(bin_dir, "tools/rerank-train")
    if args.model_dir and not os.path.isdir(args.model_dir):
        die(f"--model_dir {args.model_dir} is not a directory")
    if not os.path.exists(args.config):
        die(f"--config {args.config} does not exist")
    try:
        import grpc
    except ImportError:
        die("the grpc module is missing (apt-get install python3-grpcio; "
            "run with /usr/bin/python3)")

    temp_work = not args.work_dir
    work = tempfile.mkdtemp(prefix="protocol-eval-") if temp_work else \
        os.path.abspath(args.work_dir)
    os.makedirs(work, exist_ok=True)
    print(f"work dir: {work}", flush=True)
    pb = load_protos(os.path.abspath(args.proto_dir), os.path.join(work, "py"))

    # 1. Protocol data.
    by_user, stats = read_interactions(args.input)
    cases, targets, counts, max_count = build_cases(by_user)
    log_path = os.path.join(work, "train.csv")
    train_rows = write_training_log(by_user, targets, log_path)
    for key in sorted(stats):
        print(f"  {key}: {stats[key]}")
    print(f"cases: {len(cases)}, training rows: {train_rows}, "
          f"training items: {len(counts)}, max count: {max_count}",
          flush=True)
    all_cases = len(cases)
    if args.max_cases and args.max_cases < len(cases):
        keep = set(random.Random(args.seed).sample(range(len(cases)),
                                                   args.max_cases))
        cases = [c for i, c in enumerate(cases) if i in keep]
        print(f"sampled {len(cases)} of {all_cases} cases (seed "
              f"{args.seed})")
    base_norm = math.log1p(max_count)

    # 2. Model.
    model_dir = args.model_dir
    if not model_dir:
        model_dir = os.path.join(work, "model")
        if os.path.exists(model_dir):
            shutil.rmtree(model_dir)
        cmd = [trainer, f"--log={log_path}", f"--out={model_dir}",
               "--model_version=protocol", "--seed=42", "--threads=2"] + \
            shlex.split(args.train_args)
        print("$ " + " ".join(shlex.quote(c) for c in cmd), flush=True)
        t0 = time.monotonic()
        train = subprocess.run(cmd, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
        sys.stdout.write(train.stdout)
        with open(os.path.join(work, "rerank-train.log"), "w") as f:
            f.write(train.stderr)
        if train.returncode != 0:
            sys.stderr.write(train.stderr[-8000:])
            die(f"rerank-train exited with {train.returncode} (log: "
                f"{work}/rerank-train.log)")
        print(f"trained in {time.monotonic() - t0:.1f}s", flush=True)

    user_vectors = None
    if args.user_vectors:
        user_vectors = read_user_vectors(args.user_vectors)
        covered = sum(1 for c in cases if c["user"] in user_vectors)
        print(f"user vectors: {len(user_vectors)} from {args.user_vectors}, "
              f"{covered} of {len(cases)} cases covered", flush=True)

    # 3.-4. Server and calls.
    server = Server(rerankd, os.path.abspath(args.config), model_dir, work)
    ok = False
    results = {}
    try:
        channel = grpc.insecure_channel(server.target, options=[
            ("grpc.max_receive_message_length", 64 << 20)])
        admin = grpc.insecure_channel(server.admin)
        server.wait_serving(channel, args.startup_timeout)
        info = model_rankers(pb, admin)
        have = {pb.RankerKind.Name(k) for k in info.rankers}
        print(f"model {info.version}: {info.num_users} users, "
              f"{info.num_items} items, default ranker "
              f"{pb.RankerKind.Name(info.default_ranker)}, rankers "
              f"{sorted(have) or 'none'}", flush=True)
        pop_ranks = []
        for c in cases:
            ids = [i for i, _ in c["candidates"]]
            pop_ranks.append(ids.index(c["target"]) + 1)
        results["popularity"] = (pop_ranks, None)
        variants = [
            ("default", ("", {})),
            ("formula", ("RANKER_KIND_FORMULA", {})),
            ("formula, base_weight=0", ("RANKER_KIND_FORMULA",
                                        {"base_weight": 0.0})),
            ("linear", ("RANKER_KIND_LINEAR", {})),
            ("gbdt", ("RANKER_KIND_GBDT", {})),
        ]
        for name, variant in variants:
            if variant[0] in ("RANKER_KIND_LINEAR", "RANKER_KIND_GBDT") and \
                    variant[0] not in have:
                print(f"{name}: skipped (the model has no such ranker)")
                continue
            t0 = time.monotonic()
            try:
                ranks, served = run_variant(pb, channel, cases, base_norm,
                                            variant, args.parallel,
                                            user_vectors)
            except Skip as e:
                print(f"{name}: skipped (FAILED_PRECONDITION: {e})")
                continue
            results[name] = (ranks, dict(served))
            print(f"{name}: {len(ranks)} calls in "
                  f"{time.monotonic() - t0:.1f}s, served by "
                  f"{dict(served)}", flush=True)
        ok = True
    except (RuntimeError, grpc.RpcError) as e:
        print(f"protocol_eval: {e}", file=sys.stderr)
    finally:
        server.stop()
        if not ok:
            sys.stderr.write("---- rerankd log ----\n" + server.log_text())
            die(f"failed; work dir kept: {work}")

    # 5. Report.
    n = len(cases)
    rng = np.random.default_rng(args.seed)
    idx = rng.integers(0, n, size=(args.bootstrap, n))
    rows = []
    ndcgs = {}
    for name, (ranks, served) in results.items():
        nd = np.array([ndcg_hit(r)[0] for r in ranks])
        hr = np.array([ndcg_hit(r)[1] for r in ranks])
        ndcgs[name] = nd
        lo, hi = bootstrap(nd, idx)
        rows.append({"ranking": name, "ndcg10": float(nd.mean()),
                     "ndcg10_ci95": [lo, hi], "hr10": float(hr.mean()),
                     "mrr": float(np.mean([1.0 / r for r in ranks])),
                     "cases": n, "served_by": served})
    print()
    print("| ranking | NDCG@10 | HR@10 | cases |")
    print("|---|---|---|---|")
    for r in rows:
        lo, hi = r["ndcg10_ci95"]
        print(f"| {r['ranking']} | {r['ndcg10']:.4f} [{lo:.4f}, {hi:.4f}] | "
              f"{r['hr10']:.4f} | {r['cases']} |")
    diff = None
    if "default" in ndcgs and "formula" in ndcgs:
        d = ndcgs["default"] - ndcgs["formula"]
        lo, hi = bootstrap(d, idx)
        diff = {"mean": float(d.mean()), "ci95": [lo, hi],
                "better": int((d > 0).sum()), "worse": int((d < 0).sum())}
        print()
        print(f"default - formula, NDCG@10: {diff['mean']:+.4f} "
              f"[{lo:+.4f}, {hi:+.4f}] (95% paired bootstrap; "
              f"{diff['better']} cases better, {diff['worse']} worse)")
    wall = time.monotonic() - started
    print(f"\nNDCG@10 intervals: 95% bootstrap over cases, {args.bootstrap} "
          f"resamples, seed {args.seed}. Wall time {wall:.1f}s.")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({
                "protocol": "issue 13 (scripts/protocol_eval.py)",
                "input": os.path.abspath(args.input),
                "cases": n, "all_cases": all_cases,
                "max_cases": args.max_cases, "seed": args.seed,
                "bootstrap": args.bootstrap,
                "train_args": args.train_args,
                "model_dir": os.path.abspath(model_dir),
                "model_version": info.version,
                "model_rankers": sorted(have),
                "default_ranker": pb.RankerKind.Name(info.default_ranker),
                "data": dict(stats),
                "rankings": rows,
                "default_minus_formula_ndcg10": diff,
                "wall_seconds": wall,
            }, f, indent=2)
            f.write("\n")
    if temp_work:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1:])
