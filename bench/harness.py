"""A rerankd of its own for bench/soak.py and bench/overload.py.

Starts rerankd on free loopback ports over a copy of a model directory
(named `a` and `b`, so that reloads alternate and each swaps a new snapshot
in), runs rerank-loadgen against it, and reads the server's /proc entries
and /metrics.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request


class Rerankd:
    """The server process and its ports; a context manager that stops it
    (SIGTERM, then SIGKILL after 30 s) and removes its model root.

    With `shared_dir`, the server serves that directory itself (as its
    model root's `.`, nothing copied or removed): several servers then
    serve the very same files, as replicas on one node do."""

    def __init__(self, build, config, model_dir, extra_flags=(),
                 shared_dir=None):
        self.build = build
        self.model_dir = model_dir
        self.owns_root = shared_dir is None
        if self.owns_root:
            self.root = tempfile.mkdtemp(prefix="rerank-bench-")
            for name in ("a", "b"):
                shutil.copytree(model_dir, os.path.join(self.root, name))
            initial = "a"
        else:
            self.root, initial = os.path.split(os.path.abspath(shared_dir))
        cmd = [os.path.join(build, "src/server/rerankd"),
               "--config=" + config, "--model_root=" + self.root,
               "--initial_model=" + initial, "--listen=127.0.0.1:0",
               "--admin_listen=127.0.0.1:0", "--metrics_listen=127.0.0.1:0",
               "--log_level=info", "--shutdown_drain_seconds=0"]
        cmd += list(extra_flags)
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        lines = []
        deadline = time.time() + 60
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            m = re.search(r"serving on 127\.0\.0\.1:(\d+) .*admin on "
                          r"127\.0\.0\.1:(\d+) .*metrics on http://"
                          r"127\.0\.0\.1:(\d+)/", line)
            if m:
                self.port, self.admin_port, self.metrics_port = (
                    int(m.group(1)), int(m.group(2)), int(m.group(3)))
                # Keep reading the log so the server never blocks on it.
                threading.Thread(target=lambda: [_ for _ in self.proc.stdout],
                                 daemon=True).start()
                return
        self.proc.kill()
        if self.owns_root:
            shutil.rmtree(self.root, ignore_errors=True)
        sys.exit("rerankd did not start:\n" + "".join(lines))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        if self.owns_root:
            shutil.rmtree(self.root, ignore_errors=True)

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    def loadgen(self, flags, deadline_ms=1000):
        """Starts rerank-loadgen --json with `flags`; see finish()."""
        cmd = [os.path.join(self.build, "src/loadgen/rerank-loadgen"),
               "--target=127.0.0.1:%d" % self.port,
               "--model_dir=" + self.model_dir,
               "--deadline_ms=%d" % deadline_ms, "--json"] + list(flags)
        return subprocess.Popen(cmd, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    def run_loadgen(self, flags, deadline_ms=1000):
        return finish(self.loadgen(flags, deadline_ms), " ".join(flags))

    def closed_loop_max(self, seconds=5):
        """Calls/s of a closed loop of 50 in flight (the measured maximum)."""
        r = self.run_loadgen(["--mode=closed", "--concurrency=50",
                              "--duration=%ds" % seconds, "--warmup=1s"])
        return r["requests_per_second"]

    def reload(self, name, deadline_ms=None):
        """ModelAdmin.Reload of `name` through rerank-cli; (ok, stderr).
        `deadline_ms`: rerank-cli's deadline (its default when None; a big
        model takes longer to load)."""
        cmd = [os.path.join(self.build, "src/tools/rerank-cli"), "reload",
               "--admin_target=127.0.0.1:%d" % self.admin_port,
               "--model_dir=" + name]
        if deadline_ms is not None:
            cmd.append("--deadline_ms=%d" % deadline_ms)
        r = subprocess.run(cmd, capture_output=True, text=True)
        return r.returncode == 0, r.stderr.strip()

    def metrics(self):
        url = "http://127.0.0.1:%d/metrics" % self.metrics_port
        with urllib.request.urlopen(url, timeout=10) as r:
            text = r.read().decode()
        values = {}
        for line in text.splitlines():
            if line.startswith("#") or " " not in line:
                continue
            name, value = line.rsplit(" ", 1)
            try:
                values[name] = float(value)
            except ValueError:
                pass
        return values

    def memory_kib(self):
        """Rss, Pss, Shared_Clean, Private_Clean and Private_Dirty in KiB,
        from /proc/PID/smaps_rollup."""
        out = {}
        with open("/proc/%d/smaps_rollup" % self.pid) as f:
            for line in f:
                m = re.match(r"(\w+):\s+(\d+) kB", line)
                if m:
                    out[m.group(1)] = int(m.group(2))
        return out

    def rss_kib_and_fds(self):
        with open("/proc/%d/status" % self.pid) as f:
            rss = int(re.search(r"VmRSS:\s+(\d+) kB", f.read()).group(1))
        return rss, len(os.listdir("/proc/%d/fd" % self.pid))


def finish(proc, what):
    out, err = proc.communicate()
    if proc.returncode != 0:
        sys.exit("rerank-loadgen %s failed (%d): %s" %
                 (what, proc.returncode, err))
    return json.loads(out)
