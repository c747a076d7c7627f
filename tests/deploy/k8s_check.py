#!/usr/bin/env python3
"""Structural checks of rendered rerankd manifests: every field the server
relies on, cross-checked against the config file that the pods mount and
against proto/rerank/v1/config.proto. Run by k8s_test.sh:

  k8s_check.py manifests RENDERED.yaml --root=REPO [--replicas=N]
      [--min-replicas=N] [--hpa | --no-hpa] [--clusterip-service]
  k8s_check.py image --root=REPO      # docker/rerankd.json + docker/Dockerfile

Needs PyYAML (Debian python3-yaml). Exit 0 when every check passes.
"""

import argparse
import ipaddress
import json
import os
import re
import shlex
import sys

import yaml

RESULTS = {"passed": 0, "failed": 0}


def check(ok, what, detail=""):
    if ok:
        RESULTS["passed"] += 1
        print(f"ok: {what}")
    else:
        RESULTS["failed"] += 1
        print(f"FAIL: {what}{': ' + detail if detail else ''}", file=sys.stderr)
    return ok


# ---------------------------------------------------------------------------
# config.proto: which keys rerankd's config file may have (unknown keys make
# rerankd refuse to start).
# ---------------------------------------------------------------------------

def proto_messages(*paths):
    """{message name: {field name: type}} from simple proto3 files."""
    messages = {}
    for path in paths:
        with open(path, encoding="utf-8") as f:
            text = re.sub(r"//[^\n]*", "", f.read())
        for m in re.finditer(r"message\s+(\w+)\s*\{", text):
            depth, i = 1, m.end()
            while depth and i < len(text):
                depth += {"{": 1, "}": -1}.get(text[i], 0)
                i += 1
            body = text[m.end():i - 1]
            # Nested messages would be mixed in; config.proto has none.
            fields = {}
            for fm in re.finditer(
                    r"(?:optional\s+|repeated\s+)?(map<\s*\w+\s*,\s*[\w.]+\s*>|[\w.]+)"
                    r"\s+(\w+)\s*=\s*\d+\s*;",
                    body):
                fields[fm.group(2)] = fm.group(1)
            messages[m.group(1)] = fields
    return messages


def camel(name):
    parts = name.split("_")
    return parts[0] + "".join(p.title() for p in parts[1:])


def check_config_keys(config, messages, message, where):
    fields = messages.get(message, {})
    bad = []
    for key, value in config.items():
        field = next((f for f in fields if key in (f, camel(f))), None)
        if field is None:
            bad.append(key)
            continue
        ftype = fields[field]
        map_type = re.match(r"map<\s*\w+\s*,\s*([\w.]+)\s*>", ftype)
        ftype = (map_type.group(1) if map_type else ftype).split(".")[-1]
        if map_type and isinstance(value, dict):
            values = [(f"{where}.{key}.{k}", v) for k, v in value.items()]
        elif isinstance(value, list):
            values = [(f"{where}.{key}[{i}]", v) for i, v in enumerate(value)]
        else:
            values = [(f"{where}.{key}", value)]
        for path, v in values:
            if isinstance(v, dict) and ftype in messages:
                check_config_keys(v, messages, ftype, path)
    check(not bad, f"{where}: every key is a {message} field (rerankd refuses "
          "unknown keys)", f"unknown: {bad}")


def get(config, name, default=None):
    for key in (name, camel(name)):
        if key in config:
            return config[key]
    return default


def split_address(address):
    """'0.0.0.0:50051' / '[::]:50051' -> (host, port) or (None, None)."""
    m = re.fullmatch(r"\[?([^\]]*)\]?:(\d+)", address or "")
    return (m.group(1), int(m.group(2))) if m else (None, None)


def is_loopback(host):
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_wildcard(host):
    return host in ("0.0.0.0", "::", "[::]")


# ---------------------------------------------------------------------------
# manifests
# ---------------------------------------------------------------------------

def subset(small, big):
    return bool(small) and all(big.get(k) == v for k, v in small.items())


def flag_values(args):
    """--name=value flags of a container's args."""
    out = {}
    for a in args:
        m = re.fullmatch(r"--([\w-]+)=(.*)", a)
        if m:
            out[m.group(1)] = m.group(2)
    return out


def prestop_seconds(container):
    pre = (container.get("lifecycle") or {}).get("preStop") or {}
    if "sleep" in pre:
        return float(pre["sleep"].get("seconds", 0))
    cmd = (pre.get("exec") or {}).get("command") or []
    if len(cmd) == 3 and cmd[0] in ("sh", "/bin/sh") and cmd[1] == "-c":
        cmd = shlex.split(cmd[2])
    if len(cmd) == 2 and os.path.basename(cmd[0]) == "sleep":
        return float(cmd[1])
    return 0.0


def check_manifests(args):
    with open(args.rendered, encoding="utf-8") as f:
        objects = [o for o in yaml.safe_load_all(f) if o]
    name = os.path.basename(args.rendered)
    messages = proto_messages(
        os.path.join(args.root, "proto/rerank/v1/config.proto"),
        os.path.join(args.root, "proto/rerank/v1/rerank.proto"))

    def of_kind(kind):
        return [o for o in objects if o.get("kind") == kind]

    deployments = of_kind("Deployment")
    if not check(len(deployments) == 1, f"{name}: exactly one Deployment",
                 f"found {len(deployments)}"):
        return
    dep = deployments[0]
    dep_name = dep["metadata"]["name"]
    namespaces = {o["metadata"].get("namespace") for o in objects}
    check(len(namespaces) == 1, f"{name}: all objects in one namespace",
          str(namespaces))

    spec = dep["spec"]
    pod = spec["template"]
    pod_labels = pod["metadata"].get("labels") or {}
    pod_spec = pod["spec"]
    check(subset(spec["selector"].get("matchLabels"), pod_labels),
          f"{name}: Deployment selector matches its pod labels")

    containers = {c["name"]: c for c in pod_spec["containers"]}
    if not check("rerankd" in containers, f"{name}: container rerankd"):
        return
    c = containers["rerankd"]
    check(bool(c.get("image")) and not c["image"].endswith(":latest"),
          f"{name}: rerankd image is pinned", c.get("image", ""))

    # --- the config file: args -> mount -> ConfigMap -> JSON ---------------
    flags = flag_values(c.get("args") or [])
    config_path = flags.get("config")
    if not check(bool(config_path), f"{name}: rerankd args name --config"):
        return
    mounts = {m["mountPath"]: m for m in c.get("volumeMounts") or []}
    volumes = {v["name"]: v for v in pod_spec.get("volumes") or []}
    config_dir, config_file = os.path.split(config_path)
    mount = mounts.get(config_dir)
    key = config_file
    if mount is None and config_path in mounts:  # subPath mount of one file
        mount = mounts[config_path]
        key = mount.get("subPath", config_file)
    if not check(mount is not None,
                 f"{name}: a volume is mounted at {config_dir} for --config={config_path}"):
        return
    volume = volumes.get(mount["name"], {})
    cm_ref = (volume.get("configMap") or {}).get("name")
    configmaps = {o["metadata"]["name"]: o for o in of_kind("ConfigMap")}
    if not check(cm_ref in configmaps,
                 f"{name}: config volume is the rendered ConfigMap {cm_ref}"):
        return
    data = configmaps[cm_ref].get("data") or {}
    if not check(key in data, f"{name}: ConfigMap {cm_ref} has key {key}",
                 f"keys: {list(data)}"):
        return
    try:
        config = json.loads(data[key])
    except ValueError as e:
        check(False, f"{name}: {key} is JSON", str(e))
        return
    check_config_keys(config, messages, "ServerConfig", f"{name}: {key}")

    # Flags override the file, as in rerankd's main.cc.
    listen = flags.get("listen", get(config, "listen_address", "127.0.0.1:50051"))
    admin = flags.get("admin_listen", get(config, "admin_listen_address", ""))
    metrics = flags.get("metrics_listen", get(config, "metrics_listen_address", ""))
    model_root = flags.get("model_root", get(config, "model_root", ""))
    initial_model = flags.get("initial_model", get(config, "initial_model", ""))
    grace = float(get(config, "shutdown_grace_seconds", 10))
    drain = float(get(config, "shutdown_drain_seconds", 1))

    ports = {p.get("name"): p["containerPort"] for p in c.get("ports") or []}
    port_numbers = set(ports.values())
    host, grpc_port = split_address(listen)
    check(host is not None and is_wildcard(host),
          f"{name}: listen_address {listen} binds all interfaces (kubelet probes "
          "and Services reach the pod IP)")
    check(ports.get("grpc") == grpc_port == 50051,
          f"{name}: containerPort grpc = listen_address port = 50051",
          f"ports {ports}, listen {listen}")
    mhost, mport = split_address(metrics)
    check(mhost is not None and is_wildcard(mhost) and ports.get("metrics") == mport == 9464,
          f"{name}: containerPort metrics = metrics_listen_address port = 9464",
          f"ports {ports}, metrics_listen_address {metrics!r}")
    if admin:
        ahost, aport = split_address(admin)
        check(ahost is not None and is_loopback(ahost),
              f"{name}: admin_listen_address {admin} is loopback-only "
              "(reach it with kubectl port-forward/exec)")
        check(aport not in port_numbers or aport == grpc_port,
              f"{name}: the admin port is not published as a containerPort")

    # --- probes ----------------------------------------------------------
    for probe in ("readinessProbe", "livenessProbe"):
        p = c.get(probe) or {}
        check((p.get("grpc") or {}).get("port") == grpc_port,
              f"{name}: {probe} is a native gRPC probe on {grpc_port}", str(p))
        check((p.get("grpc") or {}).get("service", "") in
              ("", "rerank.v1.Reranker"),
              f"{name}: {probe} asks a health service rerankd sets")
    if "startupProbe" in c:
        check((c["startupProbe"].get("grpc") or {}).get("port") == grpc_port,
              f"{name}: startupProbe is a native gRPC probe on {grpc_port}")

    # --- graceful shutdown -------------------------------------------------
    pre = prestop_seconds(c)
    tgps = pod_spec.get("terminationGracePeriodSeconds", 30)
    check(tgps > grace + drain + pre,
          f"{name}: terminationGracePeriodSeconds {tgps} > preStop {pre:g}s + "
          f"shutdown_drain_seconds {drain:g}s + shutdown_grace_seconds "
          f"{grace:g}s")
    live = c.get("livenessProbe") or {}
    tolerance = live.get("failureThreshold", 3) * live.get("periodSeconds", 10)
    check(tolerance >= grace + drain + pre,
          f"{name}: liveness tolerates {tolerance}s of NOT_SERVING >= a whole "
          f"drain ({pre + drain + grace:g}s)")

    # --- model volume -----------------------------------------------------
    check(bool(initial_model), f"{name}: initial_model is set ({initial_model!r})")
    model_mount = next((m for p, m in mounts.items()
                        if model_root == p or model_root.startswith(p.rstrip("/") + "/")),
                       None)
    if check(model_mount is not None,
             f"{name}: a volume is mounted at model_root {model_root!r}"):
        mv = volumes.get(model_mount["name"], {})
        if "persistentVolumeClaim" in mv:
            claim = mv["persistentVolumeClaim"]["claimName"]
            pvcs = {o["metadata"]["name"]: o for o in of_kind("PersistentVolumeClaim")}
            check(claim in pvcs, f"{name}: model PVC {claim} is rendered")
            if claim in pvcs:
                modes = pvcs[claim]["spec"].get("accessModes", [])
                check("ReadOnlyMany" in modes or "ReadWriteMany" in modes,
                      f"{name}: model PVC can be mounted by every replica",
                      str(modes))
        elif "emptyDir" in mv:
            seeders = [ic for ic in pod_spec.get("initContainers") or []
                       if any(m["name"] == model_mount["name"]
                              for m in ic.get("volumeMounts") or [])]
            check(bool(seeders),
                  f"{name}: an init container seeds the emptyDir model volume")
        else:
            check(False, f"{name}: model volume is a PVC or a seeded emptyDir",
                  str(mv))
        check(model_mount.get("readOnly") is True,
              f"{name}: rerankd mounts the model volume read-only")

    # --- resources and security ---------------------------------------------
    for cont in pod_spec["containers"] + (pod_spec.get("initContainers") or []):
        res = cont.get("resources") or {}
        check(all(r in (res.get(kind) or {}) for kind in ("requests", "limits")
                  for r in ("cpu", "memory")),
              f"{name}: {cont['name']} has cpu and memory requests and limits",
              str(res))
        sc = cont.get("securityContext") or {}
        check(sc.get("allowPrivilegeEscalation") is False and
              sc.get("readOnlyRootFilesystem") is True,
              f"{name}: {cont['name']} has a read-only root fs, no privilege "
              "escalation", str(sc))
    psc = pod_spec.get("securityContext") or {}
    csc = c.get("securityContext") or {}
    check(csc.get("runAsNonRoot", psc.get("runAsNonRoot")) is True,
          f"{name}: runAsNonRoot")
    check(csc.get("runAsUser", psc.get("runAsUser", 10001)) != 0,
          f"{name}: runAsUser is not root")

    # --- Services -----------------------------------------------------------
    services = of_kind("Service")
    check(bool(services), f"{name}: at least one Service")
    for s in services:
        sname = s["metadata"]["name"]
        check(subset(s["spec"].get("selector"), pod_labels),
              f"{name}: Service {sname} selector matches the pod labels",
              f"{s['spec'].get('selector')} vs {pod_labels}")
        for p in s["spec"].get("ports", []):
            target = p.get("targetPort", p["port"])
            check(target in ports or target in port_numbers,
                  f"{name}: Service {sname} port {p.get('name')} targets a "
                  f"container port ({target})")
    headless = [s for s in services if s["spec"].get("clusterIP") == "None"]
    check(any(any(p.get("targetPort") in ("grpc", grpc_port)
                  for p in s["spec"].get("ports", [])) for s in headless),
          f"{name}: a headless Service publishes gRPC (client-side round_robin)")
    if args.clusterip_service:
        check(any(s["spec"].get("clusterIP") != "None" for s in services),
              f"{name}: a ClusterIP Service variant")

    # --- HPA, PDB -------------------------------------------------------------
    hpas = of_kind("HorizontalPodAutoscaler")
    if args.hpa is False:
        check(not hpas, f"{name}: no HorizontalPodAutoscaler")
    if args.hpa is True:
        check(len(hpas) == 1, f"{name}: one HorizontalPodAutoscaler")
    for h in hpas:
        ref = h["spec"]["scaleTargetRef"]
        check(h["apiVersion"] == "autoscaling/v2", f"{name}: HPA is autoscaling/v2")
        check(ref.get("kind") == "Deployment" and ref.get("name") == dep_name and
              ref.get("apiVersion", "apps/v1") == "apps/v1",
              f"{name}: HPA targets Deployment {dep_name}", str(ref))
        lo, hi = h["spec"].get("minReplicas", 1), h["spec"]["maxReplicas"]
        check(1 <= lo <= hi, f"{name}: HPA {lo} <= {hi}")
        check(any((m.get("resource") or {}).get("name") == "cpu"
                  for m in h["spec"].get("metrics", [])),
              f"{name}: HPA scales on CPU")
        if args.min_replicas:
            check(lo >= args.min_replicas,
                  f"{name}: HPA minReplicas {lo} >= {args.min_replicas}")
    pdbs = of_kind("PodDisruptionBudget")
    check(len(pdbs) == 1, f"{name}: one PodDisruptionBudget")
    for p in pdbs:
        check(p["apiVersion"] == "policy/v1", f"{name}: PDB is policy/v1")
        check(subset(p["spec"]["selector"].get("matchLabels"), pod_labels),
              f"{name}: PDB selector matches the pod labels")
        check(("maxUnavailable" in p["spec"]) != ("minAvailable" in p["spec"]),
              f"{name}: PDB sets exactly one of maxUnavailable/minAvailable")

    replicas = spec.get("replicas", 1)
    if args.replicas is not None:
        check(replicas == args.replicas, f"{name}: replicas = {args.replicas}",
              str(replicas))
    if args.min_replicas:
        check(replicas >= args.min_replicas,
              f"{name}: replicas {replicas} >= {args.min_replicas}")


# ---------------------------------------------------------------------------
# the image's config and Dockerfile
# ---------------------------------------------------------------------------

def check_image(args):
    messages = proto_messages(
        os.path.join(args.root, "proto/rerank/v1/config.proto"),
        os.path.join(args.root, "proto/rerank/v1/rerank.proto"))
    with open(os.path.join(args.root, "docker/rerankd.json"), encoding="utf-8") as f:
        config = json.load(f)
    check_config_keys(config, messages, "ServerConfig", "docker/rerankd.json")
    h, p = split_address(get(config, "listen_address"))
    check(is_wildcard(h) and p == 50051, "docker/rerankd.json: listen on 0.0.0.0:50051")
    h, p = split_address(get(config, "metrics_listen_address"))
    check(h is not None and is_wildcard(h) and p == 9464,
          "docker/rerankd.json: metrics on 0.0.0.0:9464")
    h, p = split_address(get(config, "admin_listen_address"))
    check(h is not None and is_loopback(h) and p == 50052,
          "docker/rerankd.json: admin on 127.0.0.1:50052")
    check(get(config, "model_root") == "/opt/rerank/models" and
          get(config, "initial_model") == "demo",
          "docker/rerankd.json: serves the baked demo model")
    with open(os.path.join(args.root, "docker/Dockerfile"), encoding="utf-8") as f:
        dockerfile = f.read()
    check("COPY docker/rerankd.json /etc/rerank/rerankd.json" in dockerfile and
          'CMD ["--config=/etc/rerank/rerankd.json"]' in dockerfile,
          "Dockerfile: CMD reads the config it installs")
    check(re.search(r"^USER 10001", dockerfile, re.M) is not None,
          "Dockerfile: runs as uid 10001")
    check(re.search(r"^EXPOSE 50051 50052 9464$", dockerfile, re.M) is not None,
          "Dockerfile: EXPOSE 50051 50052 9464")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["manifests", "image"])
    parser.add_argument("rendered", nargs="?")
    parser.add_argument("--root", required=True)
    parser.add_argument("--replicas", type=int)
    parser.add_argument("--min-replicas", type=int)
    parser.add_argument("--hpa", dest="hpa", action="store_true", default=None)
    parser.add_argument("--no-hpa", dest="hpa", action="store_false")
    parser.add_argument("--clusterip-service", action="store_true")
    args = parser.parse_args()
    if args.mode == "manifests":
        if not args.rendered:
            parser.error("manifests needs the rendered YAML file")
        check_manifests(args)
    else:
        check_image(args)
    print(f"k8s_check: {RESULTS['passed']} passed, {RESULTS['failed']} failed")
    return 0 if RESULTS["failed"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
