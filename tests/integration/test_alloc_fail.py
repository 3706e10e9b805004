#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Allocation failures: every command survives a NULL from malloc.

    REGSWEEP=build/regsweep ALLOC_FAIL=build/tests/alloc_fail.so \\
        /usr/bin/python3 tests/integration/test_alloc_fail.py

regsweep runs with tests/integration/alloc_fail.c preloaded, which makes the
N-th allocation after main() starts (malloc, calloc, realloc, the aligned
ones; inside libc, libhdf5, libyaml and zlib too) return NULL.  Each command
— `expand`, a fresh `run`, `info`, `report` and `run --resume` (two of the
four jobs to compute) on a tiny sin sweep with one thread (with DropConnect
masks, MC-dropout curves and activation variances recorded, so their
allocations and the report's MC section are among those failed) — is first run
without a failure to count its allocations C, then once for each N of a
sample of 1..C: the first FIRST_CALLS calls, then a seeded stride with a
random offset over the rest (RS_ALLOC_SEED, RS_ALLOC_CASES per command).

The rule each run must satisfy, whatever N:
  - no signal death, no hang (60 s);
  - exit 0, and then the same output as without a failure: stdout equal
    (timings masked), and for run/resume/report the results file
    h5diff-identical (outside /provenance) to the fault-free one; or
  - exit 1 with a line on stderr that starts "regsweep: " and says
    "out of memory" (our message for RS_ENOMEM, HDF5 failures in memory
    included) or "Cannot allocate memory" (strerror(ENOMEM), where the C
    library reported it for a path): an allocation failure is never "bad
    input" (exit 2 would tell the user a good file is damaged) and HDF5's
    own error stack never reaches stderr;
  - afterwards: OUT.h5, if the command found one, still opens with h5py,
    its /jobs table marks every job that was finished before the command
    done and /runs holds each of them; no job file is partial or damaged
    (each present is byte-identical to the fault-free run's); no temporary
    file is left; and a fault-free `run --resume` completes the sweep to a
    file h5diff-identical to the reference.
N values where no allocation was failed (the command made fewer calls this
time) must exit 0 like the fault-free run.

Every violation is collected and printed together with its N, command and
the failed call's stack (from the preload's log), then the test fails.
"""
import hashlib
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time

import h5py

REGSWEEP = os.path.abspath(os.environ.get("REGSWEEP", "build/regsweep"))
ALLOC_FAIL = os.path.abspath(os.environ.get("ALLOC_FAIL", "build/tests/alloc_fail.so"))
SEED = int(os.environ.get("RS_ALLOC_SEED", "20261201"))
CASES = int(os.environ.get("RS_ALLOC_CASES", "60"))      # per command
FIRST_CALLS = 12                                         # always tried

SPEC = """\
name: tiny
dataset: {kind: sin, n_train: 16, n_test: 8, noise_sd: 0.5, seed: 1}
model: {layers: [1, 6, 5, 1], activation: relu}
train: {lr: 0.02, epochs: 3, batch_size: 8, shuffle: true}
reg: {dropconnect_keep: [0.8, 1]}
eval: {mc_samples: 2}
record:
  masks: all
  dropconnect_masks: {epochs: [0, -1], steps: [0]}
  act_var: {epochs: all, steps: [0]}
axes:
  seed: {from: 0, to: 1}
  keep_prob: [1.0, 0.7]
"""

OOM = re.compile(r"^regsweep: .*(out of memory|Cannot allocate memory)", re.M)
TIMING = re.compile(r"[0-9.]+ (jobs/s|s)\b|ETA [-0-9:]+|elapsed [0-9.]+ s")


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def job_files(jobs_dir):
    if not os.path.isdir(jobs_dir):
        return {}
    return {n: sha(os.path.join(jobs_dir, n)) for n in os.listdir(jobs_dir)
            if re.fullmatch(r"[0-9a-f]{12}\.h5", n)}


def h5diff(a, b):
    return subprocess.run(["h5diff", "--exclude-path", "/provenance", a, b],
                          capture_output=True, text=True).returncode


class Case:
    """One command on a fresh copy of its starting state."""

    def __init__(self, name, args, start, top):
        self.name, self.args, self.start, self.top = name, args, start, top


def regsweep(args, cwd, fail_at=0, log=None):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    env.pop("RS_HDF5_ERRORS", None)
    if log and os.path.exists(log):
        os.unlink(log)
    if fail_at is not None:
        env.update(LD_PRELOAD=ALLOC_FAIL, RS_ALLOC_FAIL_AT=str(fail_at))
        if log:
            env["RS_ALLOC_FAIL_LOG"] = log
    return subprocess.run([REGSWEEP, *args], cwd=cwd, capture_output=True,
                          text=True, errors="backslashreplace", env=env, timeout=60)


def read_log(log):
    """The preload's log as {section: stack lines}: "failed" (the failed
    call), "signal N" or "exit N" (how the process died), "calls" (the
    allocations counted, at a normal exit)."""
    try:
        with open(log) as f:
            text = f.read()
    except OSError:
        return {}
    sections, name = {}, None
    for line in text.splitlines():
        m = re.fullmatch(r"(failed|signal -?\d+|exit -?\d+|calls \d+)", line)
        if m:
            name = line
            sections[name] = []
        elif name:
            sections[name].append(line)
    return sections


def calls_of(sections):
    for k in sections:
        if k.startswith("calls "):
            return int(k.split()[1])
    return None


GLIBC_HEAP_CHECK = re.compile(r"corrupted|double free|free\(\): |malloc\(\): |realloc\(\): ")


def died_inside_libhdf5(sections, rc, stderr):
    """The process died of a signal, or of exit() from a library, and the
    innermost frame outside libc and the preload is libhdf5's; or glibc
    aborted on a corrupted heap after the failed allocation was libhdf5's
    (libhdf5 1.10.8 can corrupt the heap when an allocation fails in
    H5FL_blk_realloc, and reports success: the next malloc, anyone's,
    finds the damage)."""
    if rc == -6 and GLIBC_HEAP_CHECK.search(stderr) and \
            any("libhdf5" in f for f in sections.get("failed", [])):
        return True
    for k, stack in sections.items():
        if k.startswith("signal ") or (k.startswith("exit ") and k != "exit 0"):
            frames = [f for f in stack if "alloc_fail" not in f and "libc.so" not in f]
            return bool(frames) and "libhdf5" in frames[0]
    return False


def finished(work):
    """Job ids finished in a sweep folder: job files and OUT.h5's /runs."""
    ids = {n[:-3] for n in job_files(os.path.join(work, "r.jobs"))}
    top = os.path.join(work, "r.h5")
    if os.path.exists(top):
        with h5py.File(top, "r") as f:
            if "runs" in f:
                ids |= set(f["runs"])
    return ids


def main():
    assert os.path.exists(ALLOC_FAIL), f"{ALLOC_FAIL}: build it (meson builds it)"
    rng = random.Random(SEED)
    root = tempfile.mkdtemp(prefix="rs-allocfail-")
    problems = []
    tally = {}
    deaths = {}
    t0 = time.time()
    try:
        spec = os.path.join(root, "tiny.yaml")
        with open(spec, "w") as f:
            f.write(SPEC)
        # the states the commands start from
        ref = os.path.join(root, "ref")
        os.mkdir(ref)
        # --no-pack keeps the job files (the reference digests); the
        # half-done state is that journal less two job files; the finished
        # reference is it packed
        p = regsweep(["run", spec, "-o", "r.h5", "-j", "1", "--no-pack"], ref,
                     fail_at=None)
        assert p.returncode == 0, p.stderr
        ref_jobs = job_files(os.path.join(ref, "r.jobs"))
        assert len(ref_jobs) == 4
        half = os.path.join(root, "half")
        shutil.copytree(ref, half)
        for n in sorted(ref_jobs)[:2]:
            os.unlink(os.path.join(half, "r.jobs", n))
        assert regsweep(["info", "r.h5", "--rebuild"], ref, fail_at=None).returncode == 0
        reported = os.path.join(root, "reported")
        shutil.copytree(ref, reported)
        assert regsweep(["report", "r.h5"], reported, fail_at=None).returncode == 0
        empty = os.path.join(root, "empty")
        os.mkdir(empty)

        run_args = ["run", spec, "-o", "r.h5", "-j", "1"]
        cases = [
            Case("expand", ["expand", spec], empty, None),
            Case("run", run_args, empty, ref),
            Case("info", ["info", "r.h5"], ref, None),
            Case("report", ["report", "r.h5"], ref, reported),
            Case("resume", run_args + ["--resume"], half, ref),
        ]
        for case in cases:
            work = os.path.join(root, "w")
            log = os.path.join(root, "log")

            def fresh():
                shutil.rmtree(work, ignore_errors=True)
                shutil.copytree(case.start, work)
                return finished(work)

            fresh()
            clean = regsweep(case.args, work, fail_at=0, log=log)
            calls = calls_of(read_log(log))
            assert clean.returncode == 0 and calls, (case.name, clean.stderr)
            clean_out = TIMING.sub("T", clean.stdout)
            ns = list(range(1, min(FIRST_CALLS, calls) + 1))
            rest = calls - len(ns)
            k = max(CASES - len(ns), 0)
            if rest > 0 and k > 0:
                stride = max(rest / k, 1.0)
                off = rng.random() * stride
                ns += sorted({len(ns) + 1 + int(off + i * stride) for i in range(k)
                              if len(ns) + 1 + int(off + i * stride) <= calls})
            counts = {"exit 0": 0, "exit 1": 0, "died inside libhdf5": 0, "not failed": 0}
            for n in ns:
                before = fresh()
                top = os.path.join(work, "r.h5")
                had_top = os.path.exists(top)
                try:
                    p = regsweep(case.args, work, fail_at=n, log=log)
                except subprocess.TimeoutExpired:
                    problems.append((case.name, n, "hung (60 s)", ""))
                    continue
                sections = read_log(log)
                got_calls, failed = calls_of(sections), "failed" in sections
                where = "\n      ".join(
                    [f for f in sections.get("failed", []) if "alloc_fail" not in f][:8]
                    or ["(no stack)"])
                for k, stack in sections.items():
                    if k.startswith(("signal", "exit")):
                        where += f"\n    {k}:\n      " + "\n      ".join(
                            [f for f in stack if "alloc_fail" not in f][:6])
                what = []
                rc = p.returncode
                libhdf5_died = died_inside_libhdf5(sections, rc, p.stderr)
                if libhdf5_died:
                    # libhdf5's own (docs/RELIABILITY.md); the files are checked below
                    how = next((k for k in sections if k.startswith(("signal", "exit"))), "")
                    fn = next((m.group(1) for f in sections.get(how, []) + sections.get("failed", [])
                               for m in [re.search(r"libhdf5[^(]*\((H5\w+)\+", f)] if m), "?")
                    deaths[(how or f"abort ({GLIBC_HEAP_CHECK.search(p.stderr).group(0).strip()})", fn)] = \
                        deaths.get((how, fn), 0) + 1
                elif rc < 0:
                    what.append(f"killed by signal {-rc}")
                elif rc == 0:
                    if TIMING.sub("T", p.stdout) != clean_out:
                        what.append("exit 0 but stdout differs from the fault-free run:\n"
                                    + p.stdout[-400:])
                elif rc == 1:
                    if not OOM.search(p.stderr):
                        what.append(f"exit 1 without an out-of-memory line: {p.stderr.strip()[-300:]!r}")
                else:
                    what.append(f"exit {rc}: {p.stderr.strip()[-300:]!r}")
                if re.search(r"\\x[0-9a-f]{2}", p.stderr + p.stdout):
                    what.append(f"bytes that are not UTF-8 in the output: {p.stderr.strip()[-200:]!r}")
                # libhdf5 prints its own error stack when an allocation fails
                # while it starts (no handler can be installed before that)
                in_h5_start = any("H5_init_library" in f for f in sections.get("failed", []))
                if "HDF5-DIAG" in p.stderr and not in_h5_start:
                    what.append("HDF5's error stack on stderr")
                if not failed and rc != 0:
                    what.append(f"no allocation was failed (calls {got_calls}) but exit {rc}")
                key = ("not failed" if not failed else "died inside libhdf5" if libhdf5_died
                       else f"exit {rc}")
                counts[key] = counts.get(key, 0) + 1
                # the results file and the job files
                if case.top:
                    jobs_dir = os.path.join(work, "r.jobs")
                    now = job_files(jobs_dir)
                    for name, digest in now.items():
                        if ref_jobs.get(name) != digest:
                            what.append(f"job file {name} differs from the fault-free run's")
                    try:
                        lost = before - finished(work)
                    except Exception as e:        # noqa: BLE001 - any failure to read
                        lost, _ = set(), what.append(f"OUT.h5 does not read with h5py: {e}")
                    for i in sorted(lost):
                        what.append(f"job {i}, finished before, is neither a job file "
                                    f"nor in OUT.h5")
                    leftovers = [x for d in (work, jobs_dir) if os.path.isdir(d)
                                 for x in os.listdir(d) if x.endswith(".tmp")]
                    if leftovers:
                        what.append(f"temporary files left: {leftovers}")
                    if had_top or os.path.exists(top):
                        try:
                            with h5py.File(top, "r") as f:
                                ids = f["jobs/id"].asstr()[()]
                                status = f["jobs/status"].asstr()[()]
                                for i, s in zip(ids, status):
                                    if s == "done" and i not in f["runs"]:
                                        what.append(f"{i} marked done without its /runs copy")
                        except Exception as e:        # noqa: BLE001 - any failure to read
                            what.append(f"OUT.h5 does not read with h5py: {e}")
                    if rc == 0 and h5diff(top, os.path.join(case.top, "r.h5")) != 0:
                        what.append("exit 0 but OUT.h5 differs from the fault-free run's")
                    if rc != 0 and case.name in ("run", "resume"):
                        # what the user would do next: --resume, or run again
                        # when the failed run left nothing to resume
                        again = ["--resume"] if os.path.exists(top) or now else []
                        q = regsweep(["run", spec, "-o", "r.h5", "-j", "1", *again], work,
                                     fail_at=None)
                        if q.returncode != 0:
                            what.append(f"the fault-free --resume afterwards exited {q.returncode}: "
                                        f"{q.stderr.strip()[-300:]!r}")
                        elif h5diff(top, os.path.join(ref, "r.h5")) != 0:
                            what.append("the fault-free --resume afterwards differs from the reference")
                for w in what:
                    problems.append((case.name, n, w, where))
            tally[case.name] = (calls, len(ns), counts)
            shutil.rmtree(work, ignore_errors=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    for name, (calls, tried, counts) in tally.items():
        print(f"{name:7s} {calls:6d} allocations, {tried:4d} failed one at a time: "
              + ", ".join(f"{k} {v}" for k, v in counts.items()))
    for (how, fn), n in sorted(deaths.items(), key=lambda x: -x[1]):
        print(f"  died inside libhdf5: {n:3d} x {how}, innermost libhdf5 function {fn}")
    print(f"{sum(t[1] for t in tally.values())} runs in {time.time() - t0:.1f} s "
          f"(RS_ALLOC_SEED={SEED}, RS_ALLOC_CASES={CASES})")
    if problems:
        seen = set()
        for name, n, w, where in problems:
            key = (name, w.split(":")[0])
            print(f"FAIL {name} N={n}: {w}")
            if key not in seen:
                print(f"      {where}")
                seen.add(key)
        print(f"{len(problems)} problems")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
