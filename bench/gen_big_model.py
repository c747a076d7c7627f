#!/usr/bin/python3
"""Writes a large synthetic model straight to disk, in float16 or int8.

model_load_bench --generate builds the float32 matrices in memory first,
which for 50M users x 5M items at dim 64 needs ~20 GB; this writes the
stored dtype chunk by chunk through numpy memmaps instead (a few hundred MB
of memory whatever the size), for the load-at-scale figures of
docs/performance.md ("Scale (issue 16)"):

  /usr/bin/python3 bench/gen_big_model.py --dir=/tmp/rerank-50m-int8 \\
      --users=50000000 --items=5000000 --dim=64 --factor_dtype=int8

Ids are user-<i> and item-<i>, as `rerank-loadgen --synthetic_items`
expects. Factors are random (float16: normal * 0.1; int8: uniform levels
with a scale of 0.1 / 127 per row); each item has --neighbors neighbours
with descending scores. The manifest (format_version 4, checksums) is
written last.
"""

import argparse
import hashlib
import json
import os
import sys

import numpy as np

CHUNK = 1 << 20  # rows per write


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 24), b""):
            h.update(block)
    return h.hexdigest()


def write_ids(path, prefix, n):
    with open(path, "w", encoding="ascii", newline="\n") as f:
        for start in range(0, n, CHUNK):
            end = min(n, start + CHUNK)
            f.write("".join("%s%d\n" % (prefix, i) for i in range(start, end)))


def write_factors(out_dir, name, rows, dim, dtype, rng):
    path = os.path.join(out_dir, name + "_factors.npy")
    descr = "<f2" if dtype == "float16" else "|i1"
    m = np.lib.format.open_memmap(path, mode="w+", dtype=np.dtype(descr),
                                  shape=(rows, dim))
    for start in range(0, rows, CHUNK):
        end = min(rows, start + CHUNK)
        if dtype == "float16":
            m[start:end] = (rng.standard_normal((end - start, dim),
                                                dtype=np.float32) * 0.1)
        else:
            m[start:end] = rng.integers(-127, 128, size=(end - start, dim),
                                        dtype=np.int8)
    m.flush()
    del m
    files = {name + "_factors": name + "_factors.npy"}
    if dtype == "int8":
        scales = np.full(rows, 0.1 / 127.0, dtype="<f4")
        np.save(os.path.join(out_dir, name + "_factor_scales.npy"), scales)
        files[name + "_factor_scales"] = name + "_factor_scales.npy"
    return files


def main(argv):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--dir", required=True)
    p.add_argument("--users", type=int, default=50_000_000)
    p.add_argument("--items", type=int, default=5_000_000)
    p.add_argument("--dim", type=int, default=64)
    p.add_argument("--neighbors", type=int, default=10)
    p.add_argument("--factor_dtype", choices=("float16", "int8"),
                   default="int8")
    p.add_argument("--seed", type=int, default=7)
    a = p.parse_args(argv)
    if a.items <= 7919 * a.neighbors:
        sys.exit("--items must exceed 7919 * --neighbors")
    os.makedirs(a.dir, exist_ok=True)
    rng = np.random.default_rng(a.seed)
    files = {}
    files.update(write_factors(a.dir, "user", a.users, a.dim,
                               a.factor_dtype, rng))
    files.update(write_factors(a.dir, "item", a.items, a.dim,
                               a.factor_dtype, rng))
    write_ids(os.path.join(a.dir, "user_ids.txt"), "user-", a.users)
    write_ids(os.path.join(a.dir, "item_ids.txt"), "item-", a.items)
    files["user_ids"] = "user_ids.txt"
    files["item_ids"] = "item_ids.txt"
    # Neighbours: item i -> (i + 1 + 7919 k) mod items, k < neighbors:
    # distinct, never i itself; scores descending.
    k = a.neighbors
    np.save(os.path.join(a.dir, "neighbors_indptr.npy"),
            np.arange(0, (a.items + 1) * k, k, dtype="<i8"))
    idx = np.lib.format.open_memmap(os.path.join(a.dir,
                                                 "neighbors_indices.npy"),
                                    mode="w+", dtype="<i4",
                                    shape=(a.items * k,))
    offsets = 1 + 7919 * np.arange(k, dtype=np.int64)
    for start in range(0, a.items, CHUNK):
        end = min(a.items, start + CHUNK)
        rows = np.arange(start, end, dtype=np.int64)[:, None]
        idx[start * k:end * k] = ((rows + offsets) % a.items).ravel()
    idx.flush()
    del idx
    scores = np.tile(np.linspace(1.0, 0.1, k, dtype="<f4"), a.items)
    np.save(os.path.join(a.dir, "neighbors_scores.npy"), scores)
    del scores
    for role in ("neighbors_indptr", "neighbors_indices", "neighbors_scores"):
        files[role] = role + ".npy"
    manifest = {
        "format_version": 4,
        "model_version": "big-%dx%d-%s" % (a.users, a.items, a.factor_dtype),
        "dim": a.dim,
        "num_users": a.users,
        "num_items": a.items,
        "num_neighbors": a.items * k,
        "num_complements": 0,
        "factor_dtype": a.factor_dtype,
        "created_by": "bench/gen_big_model.py",
        "files": {role: {"path": name,
                         "sha256": sha256(os.path.join(a.dir, name))}
                  for role, name in files.items()},
    }
    tmp = os.path.join(a.dir, "manifest.json.tmp")
    with open(tmp, "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    os.replace(tmp, os.path.join(a.dir, "manifest.json"))
    total = sum(os.path.getsize(os.path.join(a.dir, n))
                for n in os.listdir(a.dir))
    print("wrote %s: %.2f GB" % (a.dir, total / 1e9))


if __name__ == "__main__":
    main(sys.argv[1:])
