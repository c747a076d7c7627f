#!/usr/bin/python3
"""Regenerates tests/testdata/model_tiny_v2/ (format_version 2) with numpy.

Run from anywhere: /usr/bin/python3 tests/testdata/model_tiny_v2/generate.py
The items and factors of tests/testdata/model_tiny/, plus a complement table:
the neighbors_* arrays are the substitutes (co-viewed: boots <-> sneakers),
the complements_* arrays the complements (co-bought: boots -> socks, hat).
Written by numpy itself (np.save), not by rerank's WriteModel, so loading it
proves the C++ loader reads a version 2 model as a Python writer makes it.
"""
import hashlib
import json
import os

import numpy as np

out = os.path.dirname(os.path.abspath(__file__))

user_ids = ["alice", "bob", "carol"]
item_ids = ["sku-boots", "sku-sneakers", "sku-socks", "sku-hat", "sku-gift-card"]
categories = ["shoes", "shoes", "socks", "hats", ""]  # "" = no category
user_factors = np.array([[0.5, 0.0, 1.0, -0.25],
                         [-1.0, 0.5, 0.0, 2.0],
                         [0.125, 0.125, -0.5, 0.0]], dtype="<f4")
item_factors = np.array([[1.0, 0.0, 0.5, 0.0],
                         [0.75, 0.25, 0.5, 0.0],
                         [0.0, 1.0, 0.0, 0.5],
                         [-0.5, 0.0, 0.0, 1.0],
                         [0.0, 0.0, 0.0, 0.0]], dtype="<f4")
# Per item row: (neighbour row, score), sorted by descending score, no self.
substitutes = [[(1, 0.8)], [(0, 0.8)], [], [], []]
complements = [[(2, 0.9), (3, 0.3)], [(2, 0.5)], [(0, 0.9), (1, 0.5)],
               [(0, 0.3)], []]


def csr(table):
    indptr = np.zeros(len(item_ids) + 1, dtype="<i8")
    indptr[1:] = np.cumsum([len(n) for n in table])
    indices = np.array([j for n in table for j, _ in n], dtype="<i4")
    scores = np.array([s for n in table for _, s in n], dtype="<f4")
    return indptr, indices, scores


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


n_indptr, n_indices, n_scores = csr(substitutes)
c_indptr, c_indices, c_scores = csr(complements)
files = {}
for role, array in [("user_factors", user_factors),
                    ("item_factors", item_factors),
                    ("neighbors_indptr", n_indptr),
                    ("neighbors_indices", n_indices),
                    ("neighbors_scores", n_scores),
                    ("complements_indptr", c_indptr),
                    ("complements_indices", c_indices),
                    ("complements_scores", c_scores)]:
    name = role + ".npy"
    np.save(os.path.join(out, name), np.ascontiguousarray(array))
    files[role] = name
for role, lines in [("user_ids", user_ids), ("item_ids", item_ids),
                    ("item_categories", categories)]:
    name = role + ".txt"
    with open(os.path.join(out, name), "w", encoding="utf-8", newline="\n") as f:
        f.write("".join(line + "\n" for line in lines))
    files[role] = name

manifest = {
    "format_version": 2,
    "model_version": "tiny-v2-2024-06-01",
    "dim": int(user_factors.shape[1]),
    "num_users": len(user_ids),
    "num_items": len(item_ids),
    "num_neighbors": int(n_indptr[-1]),
    "num_complements": int(c_indptr[-1]),
    "created_by": "tests/testdata/model_tiny_v2/generate.py",
    "description": "hand-readable test model with a complement table",
    "files": {role: {"path": name, "sha256": sha256(os.path.join(out, name))}
              for role, name in files.items()},
}
with open(os.path.join(out, "manifest.json"), "w") as f:
    json.dump(manifest, f, indent=2, sort_keys=True)
    f.write("\n")
