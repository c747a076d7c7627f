#!/usr/bin/env python3
"""Runs the worked requests of README "Merchandising" against the demo model
and checks that rerank-cli prints what the README shows.

Usage: readme_examples_test.py --bin_dir=BUILD/src --source_dir=SRC [--update]

Trains the demo model from data/online-retail/ (as scripts/demo.sh does) into
a temporary directory, starts rerankd with deploy/config/rerankd.json on free
loopback ports, then runs every `$ ` line of the ```console blocks in the
section. A command's expected output is the lines under it up to the next
`$ ` line; they must equal the first lines of what it prints (stdout, then
stderr), so the README can stop a table early. --update rewrites the README
with the actual outputs instead (then review the diff).
"""
import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

SECTION = "## Merchandising"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def section_bounds(lines):
    start = next(i for i, l in enumerate(lines) if l.strip() == SECTION)
    end = next((i for i in range(start + 1, len(lines))
                if lines[i].startswith("## ")), len(lines))
    return start, end


def parse_blocks(lines, start, end):
    """[(first_line, last_line_exclusive)] of ```console blocks."""
    blocks, i = [], start
    while i < end:
        if lines[i].strip() == "```console":
            j = i + 1
            while lines[j].strip() != "```":
                j += 1
            blocks.append((i + 1, j))
            i = j
        i += 1
    return blocks


def split_commands(block_lines):
    """[(command, expected_lines)] from `$ ` lines. A command continues over
    lines ending in `\\` and over the body of a <<'WORD' here-document."""
    out, i = [], 0
    while i < len(block_lines):
        line = block_lines[i]
        if not line.startswith("$ "):
            raise SystemExit(f"console block line is not a command: {line!r}")
        command = [line[2:]]
        while command[-1].endswith("\\"):
            i += 1
            command.append(block_lines[i])
        heredoc = re.search(r"<<'?(\w+)'?", "\n".join(command))
        if heredoc:
            while block_lines[i] != heredoc.group(1):
                i += 1
                command.append(block_lines[i])
        i += 1
        expected = []
        while i < len(block_lines) and not block_lines[i].startswith("$ "):
            expected.append(block_lines[i])
            i += 1
        out.append(("\n".join(command), expected))
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin_dir", required=True)
    parser.add_argument("--source_dir", required=True)
    parser.add_argument("--update", action="store_true")
    args = parser.parse_args()
    src = os.path.abspath(args.source_dir)
    bins = os.path.abspath(args.bin_dir)
    readme_path = os.path.join(src, "README.md")
    lines = open(readme_path, encoding="utf-8").read().split("\n")
    start, end = section_bounds(lines)
    blocks = parse_blocks(lines, start, end)
    if not blocks:
        raise SystemExit("no ```console blocks in README " + SECTION)

    tmp = tempfile.mkdtemp(prefix="readme-examples-")
    server = None
    try:
        models = os.path.join(tmp, "models")
        subprocess.run(
            [os.path.join(bins, "tools", "rerank-train"),
             "--log=" + os.path.join(src, "data/online-retail/interactions.csv.gz"),
             "--item_categories=" +
             os.path.join(src, "data/online-retail/item_categories.csv"),
             "--out=" + os.path.join(models, "demo"),
             "--model_version=demo-online-retail", "--factors=32",
             "--iterations=15", "--threads=2", "--seed=42"],
            check=True, stdout=subprocess.DEVNULL)
        port = free_port()
        target = f"127.0.0.1:{port}"
        server = subprocess.Popen(
            [os.path.join(bins, "server", "rerankd"),
             "--config=" + os.path.join(src, "deploy/config/rerankd.json"),
             f"--listen={target}", f"--admin_listen=127.0.0.1:{free_port()}",
             "--metrics_listen=off", "--model_root=" + models,
             "--initial_model=demo"],
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, "log"), "w"))
        cli = os.path.join(bins, "tools", "rerank-cli")
        for _ in range(300):
            if subprocess.run([cli, "health", "--target=" + target],
                              capture_output=True).returncode == 0:
                break
            if server.poll() is not None:
                raise SystemExit("rerankd exited:\n" +
                                 open(os.path.join(tmp, "log")).read())
            time.sleep(0.05)
        env = dict(os.environ)
        env["PATH"] = os.path.join(bins, "tools") + os.pathsep + env["PATH"]

        failures, checked = 0, 0
        replacements = []  # (first, last, new lines), applied bottom-up
        preamble = []
        for first, last in blocks:
            new_block = []
            for command, expected in split_commands(lines[first:last]):
                new_block.extend(("$ " + command).split("\n"))
                if re.match(r"^(export |[A-Z_]+=)", command):
                    preamble.append(command)
                    continue
                script = "\n".join(preamble + [
                    command.replace("rerank-cli rerank",
                                    f"rerank-cli rerank --target={target}")])
                run = subprocess.run(["bash", "-c", script], cwd=src, env=env,
                                     capture_output=True, text=True)
                actual = (run.stdout + run.stderr).rstrip("\n").split("\n")
                # The table and what follows it, up to the footer.
                if "" in actual:
                    actual = actual[:actual.index("")]
                new_block.extend(actual)
                checked += 1
                if actual[:len(expected)] != expected or not expected:
                    failures += 1
                    print(f"MISMATCH for: {command}\n--- README\n" +
                          "\n".join(expected) + "\n--- rerank-cli\n" +
                          "\n".join(actual) + "\n")
            replacements.append((first, last, new_block))
        if args.update:
            for first, last, new_block in reversed(replacements):
                lines[first:last] = new_block
            open(readme_path, "w", encoding="utf-8").write("\n".join(lines))
            print(f"updated {checked} examples in {readme_path}")
            return 0
        print(f"{checked} README examples checked, {failures} mismatched")
        return 1 if failures else 0
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
