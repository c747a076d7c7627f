#!/usr/bin/python3
"""Regenerates the seed corpora under fuzz/corpus/ (committed; small).

Run from anywhere with Debian's Python (numpy writes the .npy seeds; protoc
encodes the request seeds):

    /usr/bin/python3 fuzz/make_corpus.py

Each fuzzer gets fuzz/corpus/<fuzzer>/. The seeds are starting points, not a
test oracle: tests/fuzz/fuzz_replay_test.cc replays them (and
tests/fuzz/regressions/) through the same entry points on every ctest run.
scripts/fuzz.sh fuzzes a copy, so the repo never grows by itself.
"""
import hashlib
import io
import json
import os
import shutil
import struct
import subprocess

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "fuzz", "corpus")
MODEL = os.path.join(ROOT, "tests", "testdata", "model_tiny")
MODEL_V2 = os.path.join(ROOT, "tests", "testdata", "model_tiny_v2")
# model_dir_target.cc: kFiles order and kSeparator.
MODEL_FILES = ["manifest.json", "user_factors.npy", "item_factors.npy",
               "user_ids.txt", "item_ids.txt", "neighbors_indptr.npy",
               "neighbors_indices.npy", "neighbors_scores.npy",
               "item_categories.txt"]
SEPARATOR = b"\n--FILE--\n"


def write(fuzzer, name, data):
    d = os.path.join(CORPUS, fuzzer)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def npy_bytes(arr, version=None):
    buf = io.BytesIO()
    np.lib.format.write_array(buf, arr, version=version)
    return buf.getvalue()


def hand_npy(header, data=b"", major=1):
    """A .npy file with a hand-written header dict (padded to 64 bytes)."""
    prefix_len = 10 if major == 1 else 12
    h = header.encode("latin1")
    h += b" " * ((64 - (prefix_len + len(h) + 1) % 64) % 64) + b"\n"
    fmt = "<H" if major == 1 else "<I"
    return b"\x93NUMPY" + bytes([major, 0]) + struct.pack(fmt, len(h)) + h + data


def model_file(name):
    with open(os.path.join(MODEL, name), "rb") as f:
        return f.read()


def npy_seeds():
    for name in MODEL_FILES:
        if name.endswith(".npy"):
            write("npy_header_fuzzer", "tiny_" + name, model_file(name))
    write("npy_header_fuzzer", "f8_2x3.npy",
          npy_bytes(np.arange(6, dtype="<f8").reshape(2, 3)))
    write("npy_header_fuzzer", "big_endian_f4.npy",
          npy_bytes(np.arange(3, dtype=">f4")))
    write("npy_header_fuzzer", "fortran_f4.npy",
          npy_bytes(np.asfortranarray(np.ones((2, 2), dtype="<f4"))))
    write("npy_header_fuzzer", "scalar_i8.npy",
          npy_bytes(np.array(7, dtype="<i8")))
    write("npy_header_fuzzer", "empty_0x4.npy",
          npy_bytes(np.zeros((0, 4), dtype="<f4")))
    write("npy_header_fuzzer", "u1_5.npy", npy_bytes(np.arange(5, dtype="u1")))
    write("npy_header_fuzzer", "v2_i4.npy",
          npy_bytes(np.arange(4, dtype="<i4"), version=(2, 0)))
    write("npy_header_fuzzer", "v3_f4.npy",
          npy_bytes(np.arange(2, dtype="<f4"), version=(3, 0)))
    write("npy_header_fuzzer", "py2_long.npy",
          hand_npy("{'descr': '<i4', 'fortran_order': False, 'shape': (2L,), }",
                   b"\x01\x00\x00\x00\x02\x00\x00\x00"))
    write("npy_header_fuzzer", "double_quotes.npy",
          hand_npy('{"descr": "<f4", "fortran_order": False, "shape": (1, 1)}',
                   b"\x00\x00\x80\x3f"))
    write("npy_header_fuzzer", "misaligned.npy",
          b"\x93NUMPY\x01\x00\x3b\x00"
          b"{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }\n"
          + b"\x00" * 8)
    write("npy_header_fuzzer", "f2_2x2.npy",
          npy_bytes(np.array([[1, -2], [0.5, 65504]], dtype="<f2")))
    write("npy_header_fuzzer", "i1_2x3.npy",
          npy_bytes(np.array([[1, -127, 0], [127, 5, -1]], dtype="|i1")))
    write("npy_header_fuzzer", "truncated.npy",
          model_file("item_factors.npy")[:150])


def manifest_seeds():
    tiny = model_file("manifest.json")
    write("manifest_fuzzer", "tiny.json", tiny)
    m = json.loads(tiny)
    minimal = dict(m)
    for k in ("created_by", "description"):
        minimal.pop(k)
    minimal["files"] = {k: v for k, v in m["files"].items()
                        if k != "item_categories"}
    write("manifest_fuzzer", "minimal.json",
          json.dumps(minimal, separators=(",", ":")))
    newer = dict(m, format_version=3, future_key=[1, {"x": None}])
    write("manifest_fuzzer", "newer.json", json.dumps(newer))
    with open(os.path.join(MODEL_V2, "manifest.json"), "rb") as f:
        v2 = f.read()
    write("manifest_fuzzer", "tiny_v2.json", v2)
    # A version 1 manifest with version 2's keys: refused.
    v1_with_v2_keys = dict(json.loads(v2), format_version=1)
    write("manifest_fuzzer", "v1_with_complements.json",
          json.dumps(v1_with_v2_keys))
    escaped = dict(m, description="caf\u00e9 \"q\" \\ \t\n\u0001 \u20ac",
                   created_at="2024-06-01T00:00:00Z")
    write("manifest_fuzzer", "escapes.json", json.dumps(escaped, ensure_ascii=True))
    upper = json.loads(tiny)
    for v in upper["files"].values():
        v["sha256"] = v["sha256"].upper()
    upper["num_neighbors"] = 2 ** 53
    upper["dim"] = 4.0
    write("manifest_fuzzer", "upper_sha_big_counts.json", json.dumps(upper))
    write("manifest_fuzzer", "not_object.json", "[1, 2, {\"a\": true}]")
    # Version 4: factor_dtype, and int8's per-row scale files.
    v4 = dict(json.loads(tiny), format_version=4, factor_dtype="float16",
              num_complements=0)
    write("manifest_fuzzer", "v4_float16.json", json.dumps(v4))
    int8 = json.loads(json.dumps(v4))
    int8["factor_dtype"] = "int8"
    for role in ("user_factor_scales", "item_factor_scales"):
        int8["files"][role] = {"path": role + ".npy", "sha256": "0" * 64}
    write("manifest_fuzzer", "v4_int8.json", json.dumps(int8))


def text_lines_seeds():
    # Byte 0, bit 0: allow_empty_lines.
    write("text_lines_fuzzer", "ids", b"\x00" + model_file("user_ids.txt"))
    write("text_lines_fuzzer", "categories",
          b"\x01" + model_file("item_categories.txt"))
    write("text_lines_fuzzer", "utf8",
          b"\x00caf\xc3\xa9\n\xe2\x82\xac\n\xf0\x9f\x98\x80\n\xf4\x8f\xbf\xbf")
    write("text_lines_fuzzer", "bad_utf8",
          b"\x01a\n\xed\xa0\x80\n\xc0\xaf\n\xf4\x90\x80\x80\n\xe0\x80")
    write("text_lines_fuzzer", "bom_crlf", b"\x00\xef\xbb\xbfbom\r\nx\x00y")


def one_item_model():
    """A consistent 0-user, 1-item, dim-1 model without neighbours or
    categories: a second shape for multi-file mode."""
    files = {
        "user_factors.npy": npy_bytes(np.zeros((0, 1), dtype="<f4")),
        "item_factors.npy": npy_bytes(np.ones((1, 1), dtype="<f4")),
        "user_ids.txt": b"",
        "item_ids.txt": b"only\n",
        "neighbors_indptr.npy": npy_bytes(np.zeros(2, dtype="<i8")),
        "neighbors_indices.npy": npy_bytes(np.zeros(0, dtype="<i4")),
        "neighbors_scores.npy": npy_bytes(np.zeros(0, dtype="<f4")),
        "item_categories.txt": b"",
    }
    roles = {n.rsplit(".", 1)[0]: n for n in files
             if n != "item_categories.txt"}
    manifest = {
        "format_version": 1, "model_version": "one", "dim": 1,
        "num_users": 0, "num_items": 1, "num_neighbors": 0,
        "files": {r: {"path": n, "sha256": hashlib.sha256(files[n]).hexdigest()}
                  for r, n in roles.items()},
    }
    files["manifest.json"] = json.dumps(manifest, indent=1).encode()
    return [files[n] for n in MODEL_FILES]


def model_dir_seeds():
    tiny = [model_file(n) for n in MODEL_FILES]
    for i, name in enumerate(MODEL_FILES):
        write("model_dir_fuzzer", "replace_%d_%s" % (i, name),
              bytes([i]) + tiny[i])
    # Bit 4: verify checksums (the target recomputes them).
    for i in (1, 3, 5):
        write("model_dir_fuzzer", "verified_%d_%s" % (i, MODEL_FILES[i]),
              bytes([0x10 | i]) + tiny[i])
    write("model_dir_fuzzer", "multi_tiny", b"\x09" + SEPARATOR.join(tiny))
    write("model_dir_fuzzer", "multi_tiny_verified",
          b"\x19" + SEPARATOR.join(tiny))
    write("model_dir_fuzzer", "multi_one_item",
          b"\x09" + SEPARATOR.join(one_item_model()))
    # The tiny model stored as float16 (format_version 4, factor_dtype).
    half = list(tiny)
    for i in (1, 2):
        half[i] = npy_bytes(np.load(io.BytesIO(tiny[i])).astype("<f2"))
    m = json.loads(tiny[0])
    m["format_version"] = 4
    m["factor_dtype"] = "float16"
    m.setdefault("num_complements", 0)
    for i in (1, 2):
        role = MODEL_FILES[i].rsplit(".", 1)[0]
        m["files"][role]["sha256"] = hashlib.sha256(half[i]).hexdigest()
    half[0] = json.dumps(m, indent=1).encode()
    write("model_dir_fuzzer", "multi_tiny_float16",
          b"\x09" + SEPARATOR.join(half))
    # A float16 manifest over the float32 files: refused by descr.
    write("model_dir_fuzzer", "replace_0_float16_manifest", b"\x00" + half[0])


def model_snapshot_seeds():
    # DecodeModel in model_dir_target.cc: dim-1, users, items-1, flags,
    # factors (FloatFrom: byte 2 = 1.0, 3 = -1.0, 4 = 0.5, 10 = 2.0,
    # 11 = 0.25, 5 = 1e30), indptr steps, then (index, score) per neighbour.
    valid = bytes([1, 2, 3, 1,
                   2, 4, 3, 2,                      # users 2 x dim 2
                   4, 2, 11, 3, 5, 2, 2, 2,         # items 4 x dim 2
                   2, 1, 0, 1,                      # indptr 0 2 3 3 4
                   1, 10, 2, 4,                     # item 0: 1 (2.0), 2 (0.5)
                   0, 2,                            # item 1: 0 (1.0)
                   0, 11])                          # item 3: 0 (0.25)
    write("model_snapshot_fuzzer", "valid_2x4", valid)
    # Flags bit 3: a complement table after the neighbours, same layout.
    two_tables = (bytes([valid[0], valid[1], valid[2], valid[3] | 8])
                  + valid[4:]
                  + bytes([1, 0, 1, 0,              # indptr 0 1 1 2 2
                           3, 2,                    # item 0: 3 (1.0)
                           0, 4]))                  # item 2: 0 (0.5)
    write("model_snapshot_fuzzer", "valid_two_tables", two_tables)
    # Flags bits 4-5: the factors stored as float16 (1) or int8 (2).
    for bits, name in ((0x10, "float16"), (0x20, "int8")):
        write("model_snapshot_fuzzer", "valid_" + name,
              bytes([valid[0], valid[1], valid[2], valid[3] | bits])
              + valid[4:])
    # 1e30 does not fit float16: refused when encoded.
    write("model_snapshot_fuzzer", "float16_overflow",
          bytes([0, 1, 0, 0x10, 5, 2]))
    write("model_snapshot_fuzzer", "no_neighbors", bytes([0, 0, 0, 6, 2, 0]))
    write("model_snapshot_fuzzer", "self_neighbor",
          bytes([0, 1, 1, 0, 2, 2, 3, 1, 0, 0, 2]))


# Ids of the fuzz model in rerank_request_target.cc: users u1 u2 "ué",
# items a b c d big "e€". Limits there: 32 candidates, 32 events, 16-byte ids.
REQUESTS = {
    "empty": "",
    "typical": """
request_id: "r1" user_id: "u1" top_k: 3 now_ms: 1700000000000
candidates { item_id: "a" base_score: 0.5 }
candidates { item_id: "b" }
candidates { item_id: "c" category: "socks" }
candidates { item_id: "d" in_stock: true }
events { item_id: "a" type: EVENT_TYPE_VIEW timestamp_ms: 1699999990000 }
events { item_id: "b" type: EVENT_TYPE_CLICK timestamp_ms: 1699999000000 }
events { item_id: "d" type: EVENT_TYPE_PURCHASE timestamp_ms: 1699990000000 }
""",
    "explain_overrides": """
request_id: "r2" user_id: "u2" explain: true now_ms: 1700000000000
candidates { item_id: "a" base_score: -1 }
candidates { item_id: "a" base_score: 3 }
candidates { item_id: "b" in_stock: false }
candidates { item_id: "e\\342\\202\\254" }
candidates { item_id: "zzz" base_score: 2 }
events { item_id: "e\\342\\202\\254" type: EVENT_TYPE_ADD_TO_CART timestamp_ms: 1699999999000 }
events { item_id: "e\\342\\202\\254" type: EVENT_TYPE_ADD_TO_WISHLIST timestamp_ms: 1699999999000 }
events { item_id: "a" type: EVENT_TYPE_PURCHASE timestamp_ms: 1 }
overrides {
  base_weight: 2 factor_weight: 0.5 neighbor_weight: 100 half_life_seconds: 1
  session_blend: 1 view_weight: -100 click_weight: 100 add_to_cart_weight: 3
  purchase_weight: -1 wishlist_weight: 0 purchase_demotion: 1000000
  max_event_age_seconds: 315360000 keep_out_of_stock: true
}
""",
    "anonymous_extremes": """
explain: true now_ms: 5
candidates { item_id: "big" base_score: 1e308 }
candidates { item_id: "d" base_score: -1e308 }
candidates { item_id: "c" }
events { item_id: "big" type: EVENT_TYPE_VIEW timestamp_ms: 9000000000000000000 }
events { item_id: "d" type: EVENT_TYPE_CLICK timestamp_ms: 0 }
overrides { base_weight: 100 neighbor_weight: 100 }
""",
    "unknown_everything": """
user_id: "u\\303\\251x" top_k: 1 now_ms: 1700000000000
candidates { item_id: "nope" }
candidates { item_id: "nada" base_score: 1 }
events { item_id: "gone" type: EVENT_TYPE_VIEW timestamp_ms: 1699999999999 }
""",
    "invalid_event": """
user_id: "u1"
candidates { item_id: "a" }
events { item_id: "a" type: EVENT_TYPE_UNSPECIFIED timestamp_ms: -5 }
""",
    "merchandising": """
request_id: "m1" user_id: "u1" explain: true return_removed: true top_k: 4
now_ms: 1700000000000
candidates { item_id: "a" base_score: 2 category: "socks" group_id: "g" }
candidates { item_id: "b" base_score: 1 attributes: "promotion" group_id: "g" }
candidates { item_id: "c" category: "socks" }
candidates { item_id: "d" attributes: "new" attributes: "promotion" }
candidates { item_id: "big" in_stock: false }
candidates { item_id: "zzz" category: "hats" }
events { item_id: "d" type: EVENT_TYPE_PURCHASE timestamp_ms: 1699999000000 }
events { item_id: "a" type: EVENT_TYPE_VIEW timestamp_ms: 1699999990000 }
rules {
  exclude_items: "zzz" exclude_categories: "hats"
  repurchase_window_seconds: 86400
  repurchase_window_seconds_by_category { key: "socks" value: 60 }
  boosts { attribute: "promotion" mode: BOOST_MODE_MULTIPLY value: 2 }
  boosts { category: "socks" mode: BOOST_MODE_ADD value: -0.5 name: "bury" }
  boosts { item_id: "c" mode: BOOST_MODE_ADD value: 100 }
  diversity { lambda: 0.3 top: 3 pool: 5 }
  caps { field: CAP_FIELD_GROUP max_items: 1 within_top: 3 }
  caps { field: CAP_FIELD_CATEGORY value: "socks" max_items: 0 within_top: 1 }
  pins { item_id: "b" slot: 0 }
  pins { item_id: "big" slot: 3 }
}
""",
    "bad_rules": """
candidates { item_id: "a" } candidates { item_id: "b" }
rules { pins { item_id: "a" slot: 1 } pins { item_id: "b" slot: 1 } }
""",
    "invalid_base_score": """
candidates { item_id: "a" base_score: nan }
overrides { half_life_seconds: 0 }
""",
}

JSON_REQUESTS = {
    "json_request": {
        "userId": "u2", "topK": 1, "explain": True,
        "candidates": [{"itemId": "a", "baseScore": 1.5}, {"itemId": "big"},
                       {"itemId": "c", "inStock": False}],
        "events": [{"itemId": "d", "type": "EVENT_TYPE_PURCHASE",
                    "timestampMs": "1699999990000"}],
        "nowMs": "1700000000000",
        "overrides": {"neighborWeight": 2, "keepOutOfStock": True},
    },
}


def request_seeds():
    for name, text in REQUESTS.items():
        encoded = subprocess.run(
            ["protoc", "--encode=rerank.v1.RerankRequest",
             "--proto_path=" + os.path.join(ROOT, "proto"),
             "rerank/v1/rerank.proto"],
            input=text.encode(), stdout=subprocess.PIPE, check=True).stdout
        write("rerank_request_fuzzer", name + ".pb", encoded)
    for name, obj in JSON_REQUESTS.items():
        write("rerank_request_fuzzer", name, json.dumps(obj))


def ranker_file_seeds():
    """ranker_*.json files (rerank.v1.RankerFile in JSON): valid ones of both
    kinds, and ones each refused for a different reason."""
    linear = {
        "format_version": 1, "kind": "linear",
        "feature_set": "rerank.features.v1",
        "features": ["base_score", "user_dot", "popularity", "log_events"],
        "linear": {"bias": 0.25, "weights": [1.5, -0.75, 0.3333333333333333, 2],
                   "means": [0.5, 0, 0.2, 1.0986122886681098],
                   "scales": [0.25, 1, 0.1, 0.5]},
        "description": "linear seed",
    }
    write("ranker_file_fuzzer", "linear.json", json.dumps(linear, indent=1))

    def tree(left, right, feature, threshold, default_left, value, cover):
        return {"left": left, "right": right, "feature": feature,
                "threshold": threshold, "default_left": default_left,
                "value": value, "cover": cover}

    gbdt = {
        "format_version": 1, "kind": "gbdt",
        "feature_set": "rerank.features.v1",
        "features": ["base_score", "user_dot", "purchased_before"],
        "gbdt": {"base_score": 0.5, "trees": [
            # Not breadth-first: the root's children are 3 and 1.
            tree([3, 4, -1, -1, -1], [1, 2, -1, -1, -1], [1, 0, 0, 0, 0],
                 [0.1, 0.5, 0, 0, 0], [True, False, False, False, False],
                 [0, 0, -0.25, 0.125, 0.75], [10, 6, 4, 4, 2]),
            tree([1, -1, -1], [2, -1, -1], [2, 0, 0], [0.5, 0, 0],
                 [False, False, False], [0, -1, 1], [3, 2, 1]),
        ]},
        "description": "gbdt seed: 2 trees",
    }
    write("ranker_file_fuzzer", "gbdt_2_trees.json", json.dumps(gbdt))
    # lowerCamel keys, as protobuf's JSON parser also accepts.
    camel = json.dumps(linear).replace("format_version", "formatVersion") \
        .replace("feature_set", "featureSet")
    write("ranker_file_fuzzer", "linear_camel.json", camel)

    def broken(name, obj):
        write("ranker_file_fuzzer", name, json.dumps(obj))

    t = gbdt["gbdt"]["trees"]
    broken("gbdt_cycle.json", dict(gbdt, gbdt={"base_score": 0, "trees": [
        tree([1, -1, -1], [0, -1, -1], [0, 0, 0], [0.5, 0, 0],
             [False] * 3, [0, 1, 2], [2, 1, 1])]}))
    broken("gbdt_child_out_of_range.json", dict(gbdt, gbdt={
        "base_score": 0, "trees": [t[0], dict(t[1], left=[99, -1, -1])]}))
    broken("gbdt_sizes_disagree.json", dict(gbdt, gbdt={
        "base_score": 0, "trees": [dict(t[1], cover=[3, 2])]}))
    broken("gbdt_nan_threshold.json", dict(gbdt, gbdt={
        "base_score": 0, "trees": [dict(t[1], threshold=["NaN", 0, 0])]}))
    broken("linear_zero_scale.json", dict(
        linear, linear=dict(linear["linear"], scales=[0.25, 0, 0.1, 0.5])))
    broken("unknown_feature.json", dict(
        linear, features=["base_score", "user_dot", "nope", "log_events"]))
    broken("version_2.json", dict(linear, format_version=2))
    broken("unknown_field.json", dict(linear, colour="blue"))
    write("ranker_file_fuzzer", "truncated.json", json.dumps(gbdt)[:150])
    broken("formula.json", dict(linear, kind="formula"))
    # Not UTF-8 in a string: protobuf's parser must refuse it or the
    # printer must write it back.
    write("ranker_file_fuzzer", "bad_utf8_description.json",
          json.dumps(linear).encode().replace(b"linear seed", b"caf\xe9 \xed\xa0\x80"))


def server_config_seeds():
    """rerankd config files: the shipped ones, one with every rule kind in a
    profile, and refused ones (each a different check)."""
    for name, rel in [("deploy.json", "deploy/config/rerankd.json"),
                      ("docker.json", "docker/rerankd.json"),
                      ("k8s.json", "deploy/k8s/base/rerankd.json")]:
        with open(os.path.join(ROOT, rel), "rb") as f:
            write("server_config_fuzzer", name, f.read())
    rules = {
        "exclude_items": ["x"], "exclude_categories": ["c9"],
        "repurchase_window_seconds": 3600,
        "repurchase_window_seconds_by_category": {"c1": 60},
        "boosts": [{"item_id": "a", "mode": "BOOST_MODE_ADD", "value": 1.5,
                    "name": "promo"},
                   {"category": "c2", "mode": "BOOST_MODE_MULTIPLY",
                    "value": 0.5}],
        "diversity": {"lambda": 0.5, "top": 5},
        "caps": [{"field": "CAP_FIELD_CATEGORY", "max_items": 2,
                  "within_top": 4}],
        "pins": [{"item_id": "b", "slot": 0}],
    }
    full = {"listen_address": "127.0.0.1:0", "admin_listen_address": "127.0.0.1:0",
            "metrics_listen_address": "off", "scorer": "full", "ranker": "linear",
            "shutdown_grace_seconds": 2, "shutdown_drain_seconds": 0.5,
            "limits": {"max_candidates": 100, "max_rules": 20},
            "scoring": {"half_life_seconds": 600, "neighbor_weight": 1},
            "profiles": {"home": {"rules": rules},
                         "pdp": {"scoring": {"view_weight": 0.3}}},
            "default_profile": "home"}
    write("server_config_fuzzer", "every_rule.json", json.dumps(full, indent=1))
    for name, patch in [
            ("negative_drain.json", {"shutdown_drain_seconds": -1}),
            ("unknown_key.json", {"colour": "blue"}),
            ("half_tls.json", {"tls": {"cert_file": "a.pem"}}),
            ("bad_default_profile.json", {"default_profile": "nope"}),
            ("bad_port.json", {"listen_address": "127.0.0.1:99999"}),
            ("pin_negative_slot.json", {"profiles": {"p": {"rules": {
                "pins": [{"item_id": "b", "slot": -1}]}}}})]:
        write("server_config_fuzzer", name, json.dumps(dict(full, **patch)))
    write("server_config_fuzzer", "truncated.json",
          json.dumps(full)[:120])


def interaction_log_seeds():
    """Byte 0, bit 0: skip_bad_lines; the rest is the CSV."""
    good = ("user_id,item_id,event_type,timestamp,weight\n"
            "u1,a,view,1700000000,\n"
            " u2 ,\"b,\"\"quoted\"\"\",purchase,2024-06-01T12:00:00Z,2.5\n"
            "\r\n"
            "u3,c,ADD_TO_CART,1700000001.5,1\r\n"
            "u1,\"multi\nline\",wishlist,2024-06-01 12:00:00,0\n")
    write("interaction_log_fuzzer", "good.csv", b"\x00" + good.encode())
    reordered = ("timestamp,extra,item_id,user_id,event_type\n"
                 "1700000000,z,a,u1,click\n")
    write("interaction_log_fuzzer", "reordered.csv", b"\x00" + reordered.encode())
    bad = ("user_id,item_id,event_type,timestamp\n"
           "u1,a,buy,1700000000\n"
           ",a,view,1\n"
           "u1,a,view,not-a-time\n"
           "u1,\"unterminated,view,1\n"
           "u2,b,view,1\n")
    write("interaction_log_fuzzer", "bad_lenient.csv", b"\x01" + bad.encode())
    write("interaction_log_fuzzer", "bad_strict.csv", b"\x00" + bad.encode())
    write("interaction_log_fuzzer", "weights.csv", b"\x01" + (
        "user_id,item_id,event_type,timestamp,weight\n"
        "u1,a,view,1,-1\nu1,a,view,1,nan\nu1,a,view,1,inf\nu1,a,view,1,1e3\n"
        ).encode())
    write("interaction_log_fuzzer", "no_header.csv", b"\x00\n\n")


def cli_request_seeds():
    """Byte 0: 0 --request JSON, 1 --events, 2 --candidates, 3 --overrides."""
    write("cli_request_fuzzer", "request.json",
          b"\x00" + json.dumps(JSON_REQUESTS["json_request"]).encode())
    write("cli_request_fuzzer", "request_snake.json", b"\x00" + json.dumps({
        "user_id": "u1", "candidates": [{"item_id": "a"}],
        "rules": {"pins": [{"item_id": "a", "slot": 0}]},
        "profile": "home", "ranker": "RANKER_KIND_GBDT"}).encode())
    write("cli_request_fuzzer", "events", b"\x01view:a@-5m,purchase:b,click:c@1.5h,"
          b"add_to_cart:d@1764287000000")
    write("cli_request_fuzzer", "events_bad", b"\x01X:a@-5y,view:")
    write("cli_request_fuzzer", "candidates", b"\x02a:0.5,b,c:-1e3,d:nan")
    write("cli_request_fuzzer", "overrides",
          b"\x03neighbor_weight=1.5,view_weight=0,keep_out_of_stock=true")
    write("cli_request_fuzzer", "overrides_bad", b"\x03colour=blue,=1,x")


def main():
    shutil.rmtree(CORPUS, ignore_errors=True)
    npy_seeds()
    manifest_seeds()
    text_lines_seeds()
    model_dir_seeds()
    model_snapshot_seeds()
    request_seeds()
    ranker_file_seeds()
    server_config_seeds()
    interaction_log_seeds()
    cli_request_seeds()


if __name__ == "__main__":
    main()
