#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Sweeps beyond one process: shards (--shard I/N and Slurm job arrays'
environment), `regsweep merge`, and (when regsweep is built with MPI and
mpirun is present) MPI ranks.  Every assembled file is compared bit for bit
(h5diff, /provenance and /analysis excluded) with a single-process run.

Run by meson, which passes the regsweep binary in $REGSWEEP.
"""
import fcntl
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

import h5py

REGSWEEP = os.environ.get("REGSWEEP", "build/regsweep")

# 24 jobs of equal cost: 4 seeds x 3 keep x 2 l2
SMALL = """\
name: small
dataset: {kind: sin, n_train: 64, n_test: 50, noise_sd: 0.5, seed: 3, n_val: 16}
model: {layers: [1, 16, 12, 1], activation: relu}
train: {lr: 0.02, epochs: 12, batch_size: 16, shuffle: true}
record: {masks: all}
axes:
  seed: {from: 0, to: 3}
  keep_prob: [1.0, 0.7, [0.9, 0.5]]
  l2: [0, 0.001]
"""

# the same grid, every axis in another order: the same jobs (ids)
REORDERED = """\
name: small
dataset: {kind: sin, n_train: 64, n_test: 50, noise_sd: 0.5, seed: 3, n_val: 16}
model: {layers: [1, 16, 12, 1], activation: relu}
train: {lr: 0.02, epochs: 12, batch_size: 16, shuffle: true}
record: {masks: all}
axes:
  seed: [3, 1, 2, 0]
  keep_prob: [[0.9, 0.5], 1.0, 0.7]
  l2: [0.001, 0]
"""

# slower jobs, for killing a shard part-way
SLOW = SMALL.replace("epochs: 12", "epochs: 400").replace("n_train: 64", "n_train: 256")


def run(*args, env=None, check=None, timeout=600):
    e = dict(os.environ)
    e.update(env or {})
    p = subprocess.run([REGSWEEP, *args], capture_output=True, text=True, env=e,
                       timeout=timeout)
    if check is not None and p.returncode != check:
        raise AssertionError(f"regsweep {' '.join(args)} exited {p.returncode}, "
                             f"expected {check}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}")
    return p


def h5diff(a, b):
    return subprocess.run(["h5diff", "--exclude-path", "/provenance",
                           "--exclude-path", "/analysis", a, b],
                          capture_output=True, text=True)


def finished_ids(path):
    with h5py.File(path, "r") as f:
        ids = f["jobs/id"].asstr()[()]
        status = f["jobs/status"].asstr()[()]
    return {i for i, s in zip(ids, status) if s == "done"}


# Tests about killing and signals run in the release build only, as the
# crash and race tests do (tools/test.sh): under AddressSanitizer their
# slow jobs take minutes.
timing = unittest.skipIf("ASAN_OPTIONS" in os.environ,
                         "killing and signals: tested in the release build")


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def no_slurm_env():
    return {k: "" for k in ("SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_MIN",
                            "SLURM_ARRAY_TASK_MAX", "SLURM_ARRAY_TASK_COUNT",
                            "SLURM_ARRAY_TASK_STEP")}


class Shards(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name
        self.spec = self.write("small.yaml", SMALL)
        self.single = self.out("single.h5")
        run("run", self.spec, "-o", self.single, "-j", "2", env=no_slurm_env(),
            check=0)

    def tearDown(self):
        self.tmp.cleanup()

    def out(self, name):
        return os.path.join(self.dir, name)

    def write(self, name, text):
        path = self.out(name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def shard(self, i, n, out="m.h5", spec=None, extra=(), check=0):
        return run("run", spec or self.spec, "-o", self.out(out), "--shard",
                   f"{i}/{n}", "-j", "1", *extra, env=no_slurm_env(), check=check)

    def assert_same(self, path):
        d = h5diff(self.single, path)
        self.assertEqual(d.returncode, 0, d.stdout + d.stderr)

    def test_four_shards_merged_equal_one_process(self):
        # two shards packed, two left as job files (--no-pack): merge reads both
        for i in range(1, 5):
            self.shard(i, 4, extra=("--no-pack",) if i % 2 else ())
        parts = [self.out(f"m.shard-{i}-of-4.h5") for i in range(1, 5)]
        seen = [finished_ids(p) | {os.path.basename(x)[:12] for x in
                                   os.listdir(self.out(f"m.shard-{i + 1}-of-4.jobs"))
                                   if x.endswith(".h5")}
                for i, p in enumerate(parts)]
        # disjoint, complete, balanced (24 equal jobs: 6 each)
        self.assertEqual([len(s) for s in seen], [6, 6, 6, 6])
        self.assertEqual(len(set().union(*seen)), 24)
        p = run("merge", self.out("m.h5"), check=0)
        self.assertIn("24 of 24 jobs finished", p.stderr)
        self.assert_same(self.out("m.h5"))
        # the parts are only read: their job files are still there
        self.assertTrue(os.listdir(self.out("m.shard-1-of-4.jobs")))
        # the merged file is a results file like any other
        run("info", self.out("m.h5"), "--verify", check=0)
        run("rerun", self.out("m.h5"), "--job", "7", check=0)
        with h5py.File(self.out("m.h5"), "r") as f:
            hist = f["provenance/history/command"].asstr()[()]
            self.assertEqual(sum("--shard" in c for c in hist), 4, hist)
            self.assertTrue(any(" merge " in c for c in hist), hist)
            self.assertFalse(any(x != x for x in f["provenance/job_wall_s"][()]))

    def test_uneven_split_is_balanced(self):
        counts = []
        for i in range(1, 6):
            self.shard(i, 5)
            counts.append(len(finished_ids(self.out(f"m.shard-{i}-of-5.h5"))))
        # equal costs: longest-processing-time-first deals them round robin
        self.assertEqual(counts, [5, 5, 5, 5, 4])
        run("merge", self.out("m.h5"), check=0)
        self.assert_same(self.out("m.h5"))

    def test_shards_do_not_depend_on_the_grid_order(self):
        other = self.write("reordered.yaml", REORDERED)
        for i in (1, 2, 3):
            self.shard(i, 3, out="a.h5")
            self.shard(i, 3, out="b.h5", spec=other)
            self.assertEqual(finished_ids(self.out(f"a.shard-{i}-of-3.h5")),
                             finished_ids(self.out(f"b.shard-{i}-of-3.h5")))

    def test_slurm_array_environment(self):
        # --array=4-10:3 -> tasks 4, 7, 10: task 7 is shard 2 of 3
        env = dict(no_slurm_env(), SLURM_ARRAY_TASK_ID="7", SLURM_ARRAY_TASK_MIN="4",
                   SLURM_ARRAY_TASK_MAX="10", SLURM_ARRAY_TASK_STEP="3")
        p = run("run", self.spec, "-o", self.out("s.h5"), env=env, check=0)
        self.assertIn("shard 2 of 3 from SLURM_ARRAY_TASK_ID=7", p.stderr)
        self.shard(2, 3, out="t.h5")
        self.assertEqual(finished_ids(self.out("s.shard-2-of-3.h5")),
                         finished_ids(self.out("t.shard-2-of-3.h5")))
        # --shard wins over the environment; 1/1 is the whole grid, into OUT
        p = run("run", self.spec, "-o", self.out("w.h5"), "--shard", "1/1", env=env,
                check=0)
        self.assertNotIn("shard", p.stderr)
        self.assert_same(self.out("w.h5"))
        # a list of task ids (--array=1,3,7) maps onto no shard: refused
        env = dict(no_slurm_env(), SLURM_ARRAY_TASK_ID="7", SLURM_ARRAY_TASK_MIN="1",
                   SLURM_ARRAY_TASK_MAX="7", SLURM_ARRAY_TASK_COUNT="3")
        p = run("run", self.spec, "-o", self.out("x.h5"), env=env, check=2)
        self.assertIn("--shard I/N", p.stderr)
        self.assertFalse(os.path.exists(self.out("x.shard-3-of-3.h5")))
        for bad in ("0/3", "4/3", "1/0", "x/2", "2"):
            p = run("run", self.spec, "-o", self.out("y.h5"), "--shard", bad,
                    check=2)
            self.assertIn("--shard", p.stderr)

    def test_incomplete_merge_then_finish(self):
        for i in (1, 3, 4):
            self.shard(i, 4)
        p = run("merge", self.out("m.h5"), check=1)
        self.assertIn("18 of 24 jobs finished", p.stderr)
        self.assertIn("no part of shard 2 of 4", p.stderr)
        run("merge", self.out("m.h5"), "--allow-incomplete", check=0)
        # the missing shard runs later; a second merge adds it
        self.shard(2, 4)
        run("merge", self.out("m.h5"), check=0)
        self.assert_same(self.out("m.h5"))
        # three merges took each shard's history once
        with h5py.File(self.out("m.h5"), "r") as f:
            hist = list(f["provenance/history/command"].asstr()[()])
        for i in range(1, 5):
            self.assertEqual(sum(f"{i}/4" in c for c in hist), 1, hist)
        # or: run --resume on a partial merge finishes it in one process
        run("merge", self.out("n.h5"), self.out("m.shard-1-of-4.h5"), check=1)
        run("run", self.spec, "-o", self.out("n.h5"), "--resume", env=no_slurm_env(),
            check=0)
        self.assert_same(self.out("n.h5"))

    def test_overlapping_parts_are_the_same_bits(self):
        # shard 1 of 2 and shard 1 of 3 share jobs: taken once, compared
        self.shard(1, 2)
        self.shard(2, 2)
        self.shard(1, 3, out="o.h5")
        part3 = self.out("o.shard-1-of-3.h5")
        run("merge", self.out("m.h5"), self.out("m.shard-1-of-2.h5"), part3,
            self.out("m.shard-2-of-2.h5"), check=0)
        self.assert_same(self.out("m.h5"))
        # a copy whose checksum says other bits: refused, naming the job
        shared = sorted(finished_ids(part3) & finished_ids(self.out("m.shard-1-of-2.h5")))[0]
        with h5py.File(part3, "r+") as f:
            f[f"runs/{shared}"].attrs["content_sha256"] = "0" * 64
        before = read_bytes(self.out("m.h5"))
        p = run("merge", self.out("m.h5"), part3, check=1)
        self.assertIn(shared, p.stderr)
        self.assertIn("different bits", p.stderr)
        self.assertEqual(read_bytes(self.out("m.h5")), before)

    def test_parts_of_another_spec_or_version_are_refused(self):
        self.shard(1, 2)
        self.shard(2, 2, extra=("train.lr=0.03",))
        p = run("merge", self.out("m.h5"), check=2)
        self.assertIn("m.shard-2-of-2.h5", p.stderr)
        self.assertIn("another sweep", p.stderr)
        self.assertFalse(os.path.exists(self.out("m.h5")))
        # an existing merged file is left as it was
        run("merge", self.out("m.h5"), self.out("m.shard-1-of-2.h5"), check=1)
        before = read_bytes(self.out("m.h5"))
        run("merge", self.out("m.h5"), self.out("m.shard-2-of-2.h5"), check=2)
        self.assertEqual(read_bytes(self.out("m.h5")), before)
        # another regsweep version
        self.shard(1, 3, out="v.h5")
        with h5py.File(self.out("v.shard-1-of-3.h5"), "r+") as f:
            f.attrs["regsweep_version"] = "0.0.1"
        p = run("merge", self.out("v.h5"), check=2)
        self.assertIn("regsweep 0.0.1", p.stderr)
        # a part that is not a part at all; the output named as a part
        junk = self.write("junk.h5", "not hdf5")
        p = run("merge", self.out("j.h5"), junk, check=2)
        self.assertIn("junk.h5", p.stderr)
        p = run("merge", self.single, self.single, check=2)
        self.assertIn("output itself", p.stderr)
        p = run("merge", self.out("none.h5"), check=2)
        self.assertIn("no parts", p.stderr)

    def test_merge_waits_for_a_running_shard(self):
        self.shard(1, 2)
        self.shard(2, 2)
        lock = os.path.join(self.out("m.shard-2-of-2.jobs"), ".lock")
        with open(lock, "w") as fd:
            fcntl.flock(fd, fcntl.LOCK_EX)   # as a running shard holds it
            p = run("merge", self.out("m.h5"), check=2)
            self.assertIn("still running", p.stderr)
            self.assertIn(f"pid {os.getpid()}", p.stderr)
        run("merge", self.out("m.h5"), check=0)
        self.assert_same(self.out("m.h5"))

    @timing
    def test_killed_shard_is_finished_by_resume(self):
        slow = self.write("slow.yaml", SLOW)
        ref = self.out("slow.h5")
        run("run", slow, "-o", ref, "-j", "2", env=no_slurm_env(), check=0)
        part = self.out("k.shard-1-of-2.h5")
        jobs = self.out("k.shard-1-of-2.jobs")
        proc = subprocess.Popen([REGSWEEP, "run", slow, "-o", self.out("k.h5"),
                                 "--shard", "1/2", "-j", "1"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                env=dict(os.environ, **no_slurm_env()))
        deadline = time.time() + 120
        while time.time() < deadline and proc.poll() is None and (
                not os.path.isdir(jobs) or
                sum(x.endswith(".h5") for x in os.listdir(jobs)) < 2):
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        done_before = sum(x.endswith(".h5") for x in os.listdir(jobs))
        self.assertGreaterEqual(done_before, 2)
        # the merge sees the dead shard's job files (nothing holds its lock)
        run("run", slow, "-o", self.out("k.h5"), "--shard", "2/2", "-j", "1",
            env=no_slurm_env(), check=0)
        p = run("merge", self.out("k.h5"), check=1)
        self.assertIn(f"{12 + done_before} of 24 jobs finished", p.stderr)
        run("run", slow, "-o", self.out("k.h5"), "--shard", "1/2", "--resume",
            "-j", "2", env=no_slurm_env(), check=0)
        self.assertTrue(os.path.exists(part))
        run("merge", self.out("k.h5"), check=0)
        d = h5diff(ref, self.out("k.h5"))
        self.assertEqual(d.returncode, 0, d.stdout + d.stderr)


FASHION = "/usr/share/datasets/fashion-mnist"
# a classifier on relative data paths: each rank reads the data in its own
# working directory
CLASSIFIER = """\
name: fm_mpi
dataset: {kind: idx, dir: data, max_train: 300, max_test: 200}
model: {layers: [784, 16, 10], loss: softmax_cross_entropy}
train: {lr: 0.3, epochs: 2, batch_size: 50, shuffle: true}
record: {masks: {epochs: [0], steps: [0]}}
axes:
  seed: {from: 0, to: 3}
  keep_prob: [1.0, 0.8]
"""


def openmp():
    p = subprocess.run([REGSWEEP, "--version"], capture_output=True, text=True)
    return "no OpenMP" not in p.stdout


def mpi_built():
    p = subprocess.run([REGSWEEP, "--version"], capture_output=True, text=True)
    return "MPI: yes" in p.stdout


MPIRUN = shutil.which("mpirun")


def mpi_env():
    """The environment of mpirun's ranks: no Slurm array, and under
    AddressSanitizer no leak check (Open MPI leaks its unloaded components'
    memory at MPI_Finalize; memory errors are still caught)."""
    env = dict(os.environ, **no_slurm_env())
    if "ASAN_OPTIONS" in env:
        env["ASAN_OPTIONS"] = env["ASAN_OPTIONS"].replace("detect_leaks=1",
                                                          "detect_leaks=0")
    return env
MPI_ARGS = ["--oversubscribe", "--allow-run-as-root", "--bind-to", "none"]


def mpirun_works():
    """Can mpirun start processes here at all (a container may forbid it)?
    Whatever fails beyond that is regsweep's to answer for."""
    if not MPIRUN:
        return False
    try:
        p = subprocess.run([MPIRUN, *MPI_ARGS, "-n", "2", "true"],
                           capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        return False
    if p.returncode:
        print("mpirun cannot start processes here:", p.stderr[-500:], file=sys.stderr)
    return p.returncode == 0


@unittest.skipUnless(MPIRUN and mpi_built() and mpirun_works(),
                     "regsweep built without MPI, or no mpirun (Debian: "
                     "openmpi-bin libopenmpi-dev), or mpirun cannot start "
                     "processes on this machine")
class Mpi(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name
        self.spec = os.path.join(self.dir, "small.yaml")
        with open(self.spec, "w") as f:
            f.write(SMALL)
        self.single = os.path.join(self.dir, "single.h5")
        run("run", self.spec, "-o", self.single, "-j", "1", env=no_slurm_env(),
            check=0)

    def tearDown(self):
        self.tmp.cleanup()

    def out(self, name):
        return os.path.join(self.dir, name)

    def mpirun(self, n, *args, timeout=180):
        return subprocess.run([MPIRUN, *MPI_ARGS, "-n", str(n), REGSWEEP, *args],
                              capture_output=True, text=True, timeout=timeout,
                              env=mpi_env())

    def assert_same(self, a, b):
        d = h5diff(a, b)
        self.assertEqual(d.returncode, 0, d.stdout + d.stderr)

    def test_ranks_give_the_single_process_file(self):
        for n, j in ((2, 1), (3, 1), (4, 1), (2, 2)):
            out = self.out(f"r{n}x{j}.h5")
            p = self.mpirun(n, "run", self.spec, "-o", out, "-j", str(j))
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertIn(f"on {n} MPI ranks", p.stderr)
            self.assert_same(self.single, out)
            # every rank ran jobs: provenance.tsv's worker is rank x 1000 +
            # thread (without OpenMP, rank 0 only hands out jobs and writes)
            with open(self.out(f"r{n}x{j}.jobs/provenance.tsv")) as f:
                ranks = {int(line.split("\t")[3]) // 1000 for line in f}
            self.assertEqual(ranks, set(range(0 if openmp() else 1, n)), (n, j))

    @timing
    def test_a_killed_rank_loses_only_its_jobs_and_resume_finishes(self):
        slow = os.path.join(self.dir, "slow.yaml")
        with open(slow, "w") as f:
            f.write(SLOW_MPI)
        ref = self.out("slow.h5")
        run("run", slow, "-o", ref, "-j", "2", env=no_slurm_env(), check=0)
        out, jobs = self.out("k.h5"), self.out("k.jobs")
        proc = subprocess.Popen([MPIRUN, *MPI_ARGS, "-n", "3", REGSWEEP, "run", slow,
                                 "-o", out, "-j", "1"], stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True,
                                env=mpi_env())
        deadline = time.time() + 120
        while time.time() < deadline and (not os.path.isdir(jobs) or sum(
                x.endswith(".h5") for x in os.listdir(jobs)) < 3):
            time.sleep(0.05)
        ranks = subprocess.run(["pgrep", "-f", f"^{REGSWEEP} run {slow}"],
                               capture_output=True, text=True).stdout.split()
        self.assertEqual(len(ranks), 3, ranks)
        os.kill(int(sorted(ranks, key=int)[1]), signal.SIGKILL)   # a worker rank
        _, err = proc.communicate(timeout=120)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("signal 9", err)
        saved = sum(x.endswith(".h5") for x in os.listdir(jobs))
        self.assertGreaterEqual(saved, 3)
        self.assertLess(saved, 24)
        p = self.mpirun(3, "run", slow, "-o", out, "-j", "1", "--resume")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(f"{saved} already done", p.stderr)
        self.assert_same(ref, out)

    def start_slow(self, out):
        slow = os.path.join(self.dir, "slow.yaml")
        with open(slow, "w") as f:
            f.write(SLOW_MPI)
        ref = self.out("slow.h5")
        run("run", slow, "-o", ref, "-j", "2", env=no_slurm_env(), check=0)
        jobs = out[:-3] + ".jobs"
        proc = subprocess.Popen([MPIRUN, *MPI_ARGS, "-n", "3", REGSWEEP, "run", slow,
                                 "-o", out, "-j", "1"], stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True,
                                env=mpi_env())
        deadline = time.time() + 120
        while time.time() < deadline and (not os.path.isdir(jobs) or sum(
                x.endswith(".h5") for x in os.listdir(jobs)) < 2):
            time.sleep(0.05)
        ranks = subprocess.run(["pgrep", "-f", f"^{REGSWEEP} run {slow}"],
                               capture_output=True, text=True).stdout.split()
        return slow, ref, jobs, proc, sorted(map(int, ranks))

    def finished(self, out):
        p = run("info", out, check=0)
        return int(p.stdout.split("finished:")[1].split()[0])

    @timing
    def test_ctrl_c_to_the_ranks_stops_packs_and_resumes(self):
        """A terminal's Ctrl-C reaches every rank: rank 0 stops handing out
        jobs, the running ones are abandoned (mpirun would SIGKILL them a
        second after its SIGTERM anyway), the finished ones are packed."""
        out = self.out("c.h5")
        slow, ref, jobs, proc, ranks = self.start_slow(out)
        self.assertEqual(len(ranks), 3, ranks)
        seen = sum(x.endswith(".h5") for x in os.listdir(jobs))
        for pid in ranks:
            os.kill(pid, signal.SIGINT)
        _, err = proc.communicate(timeout=120)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("stopped by SIGINT", err)
        self.assertIn("--resume", err)
        self.assertEqual([x for x in os.listdir(jobs) if x.endswith(".h5")], [])
        self.assertGreaterEqual(self.finished(out), seen)
        p = self.mpirun(2, "run", slow, "-o", out, "-j", "1", "--resume")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assert_same(ref, out)

    @timing
    def test_ctrl_c_to_mpirun_loses_no_finished_job(self):
        """mpirun turns SIGINT into SIGTERM for the ranks and SIGKILL one
        second later: however far rank 0 got, no finished job is lost."""
        out = self.out("m.h5")
        slow, ref, jobs, proc, _ = self.start_slow(out)
        seen = sum(x.endswith(".h5") for x in os.listdir(jobs))
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=120)
        self.assertNotEqual(proc.returncode, 0)
        left = sum(x.endswith(".h5") for x in os.listdir(jobs))
        self.assertGreaterEqual(self.finished(out) + left, seen)
        p = self.mpirun(3, "run", slow, "-o", out, "-j", "1", "--resume")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assert_same(ref, out)

    @unittest.skipUnless(os.path.isdir(FASHION), "no " + FASHION)
    def test_no_shared_directory_and_ranks_without_the_data(self):
        """Ranks in their own directories (no shared file system): rank 0
        writes everything; a rank whose data differ or are missing runs no
        job and is named; the file is the single-process one."""
        dirs = {}
        for name in ("r0", "r1", "r2", "r3", "ref"):
            d = dirs[name] = os.path.join(self.dir, name)
            os.makedirs(d)
            with open(os.path.join(d, "fm.yaml"), "w") as f:
                f.write(CLASSIFIER)
        for name in ("r0", "r1", "ref"):
            os.symlink(FASHION, os.path.join(dirs[name], "data"))
        # r2: the test labels with one label changed, stored plain (the
        # reader tells gzip by its magic, not by the name)
        import gzip
        os.makedirs(os.path.join(dirs["r2"], "data"))
        for n in os.listdir(FASHION):
            src, dst = os.path.join(FASHION, n), os.path.join(dirs["r2"], "data", n)
            if n.startswith("t10k-labels"):
                with gzip.open(src, "rb") as f:
                    labels = bytearray(f.read())
                labels[8] = (labels[8] + 1) % 10
                with open(dst, "wb") as f:
                    f.write(labels)
            else:
                os.symlink(src, dst)
        # r3: no data at all
        ref = os.path.join(dirs["ref"], "fm.h5")
        p = subprocess.run([REGSWEEP, "run", "fm.yaml", "-o", "fm.h5"], cwd=dirs["ref"],
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        cmd = [MPIRUN, *MPI_ARGS]
        for i in range(4):
            if i:
                cmd.append(":")
            cmd += ["-n", "1", "--wdir", dirs[f"r{i}"], REGSWEEP, "run", "fm.yaml",
                    "-o", "out/fm.h5", "-j", "1"]
        os.makedirs(os.path.join(dirs["r0"], "out"))
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=600,
                           env=mpi_env())
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex(p.stderr, r"rank 2 \(.*\) runs no jobs: its dataset differs")
        self.assertRegex(p.stderr, r"rank 3 \(.*\) runs no jobs: .*t10k|train")
        self.assert_same(ref, os.path.join(dirs["r0"], "out", "fm.h5"))
        for i in (1, 2, 3):   # the other ranks wrote nothing
            self.assertEqual(sorted(os.listdir(dirs[f"r{i}"])),
                             ["data", "fm.yaml"] if i < 3 else ["fm.yaml"])
        with open(os.path.join(dirs["r0"], "out", "fm.jobs", "provenance.tsv")) as f:
            ranks = {int(line.split("\t")[3]) // 1000 for line in f}
        # rank 1 may find every job taken by the time its data are loaded
        self.assertLessEqual(ranks, {0, 1})

    def test_shards_of_mpi_runs_merge(self):
        for i in (1, 2):
            p = self.mpirun(2, "run", self.spec, "-o", self.out("m.h5"), "--shard",
                            f"{i}/2", "-j", "1")
            self.assertEqual(p.returncode, 0, p.stderr)
        run("merge", self.out("m.h5"), check=0)
        self.assert_same(self.single, self.out("m.h5"))


# a few seconds a job here: slow enough to kill a rank part-way
SLOW_MPI = SMALL.replace("epochs: 12", "epochs: 1500").replace(
    "n_train: 64", "n_train: 512").replace("[1, 16, 12, 1]", "[1, 64, 64, 1]").replace(
    "masks: all", "masks: none").replace("lr: 0.02", "lr: 0.002")


if __name__ == "__main__":
    unittest.main(verbosity=2)
