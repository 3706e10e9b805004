#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The command line behaves like its neighbours' (git, Hydra users'):
--help after every command, --opt=value, one version, provenance with a
history, outputs that never collide, and live state while a sweep runs.

Run by meson, which passes the regsweep binary in $REGSWEEP and the source
root in $RS_SOURCE_ROOT.  Each test works in its own temporary directory.
"""
import os
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

import h5py

REGSWEEP = os.environ.get("REGSWEEP", "build/regsweep")
ROOT = os.environ.get("RS_SOURCE_ROOT",
                      os.path.join(os.path.dirname(__file__), "..", ".."))

TINY = """\
name: tiny
dataset: {kind: sin, n_train: 32, n_test: 20, noise_sd: 0.5, seed: 3}
model: {layers: [1, 8, 1], activation: relu}
train: {lr: 0.02, epochs: 4, batch_size: 8, shuffle: true}
record: {masks: none}
axes:
  seed: {from: 0, to: 2}
  keep_prob: [1.0, 0.5]
"""

# jobs long enough (~0.1 s each here) to catch a sweep while it runs; the
# tests stop it with a signal, so a long grid costs nothing
SLOW = """\
name: slow
dataset: {kind: sin, n_train: 200, n_test: 50, noise_sd: 0.5, seed: 3}
model: {layers: [1, 64, 64, 1], activation: relu}
train: {lr: 0.01, epochs: 600, batch_size: full}
record: {masks: none}
axes:
  seed: {from: 0, to: 199}
"""

COMMANDS = ["run", "expand", "rerun", "report", "info"]


def run(*args, check=None, env=None, cwd=None):
    e = dict(os.environ, OMP_NUM_THREADS="2")
    e.update(env or {})
    p = subprocess.run([REGSWEEP, *args], capture_output=True, text=True, env=e, cwd=cwd)
    if check is not None and p.returncode != check:
        raise AssertionError(f"regsweep {' '.join(args)} exited {p.returncode}, expected "
                             f"{check}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}")
    return p


def project_version():
    with open(os.path.join(ROOT, "meson.build")) as f:
        return re.search(r"version:\s*'([^']+)'", f.read()).group(1)


def wait_for(pred, timeout=60.0):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if pred():
            return True
        time.sleep(0.05)
    return False


def n_job_files(jobs_dir):
    try:
        return sum(n.endswith(".h5") for n in os.listdir(jobs_dir))
    except FileNotFoundError:
        return 0


class Cli(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name
        self.spec = self.path("tiny.yaml")
        with open(self.spec, "w") as f:
            f.write(TINY)

    def tearDown(self):
        self.tmp.cleanup()

    def path(self, name):
        return os.path.join(self.dir, name)

    # ---- help, usage, options -------------------------------------------------

    def test_help_after_every_command(self):
        for cmd in COMMANDS:
            for flag in ("--help", "-h"):
                p = run(cmd, flag, check=0)
                self.assertTrue(p.stdout.startswith(f"usage: regsweep {cmd} "), p.stdout)
                self.assertEqual(p.stderr, "")
            # also after other arguments, as git takes it
            p = run(cmd, "whatever.h5", "--help", check=0)
            self.assertTrue(p.stdout.startswith(f"usage: regsweep {cmd} "))

    def test_top_usage_names_every_option_of_every_command(self):
        top = run("--help", check=0).stdout
        self.assertEqual(run().returncode, 2)          # no command: usage on stderr
        for cmd in COMMANDS:
            sub = run(cmd, "--help", check=0).stdout
            opts = set(re.findall(r"(?<![\w-])(--?[a-z][a-z-]*)", sub))
            self.assertTrue(opts or cmd == "expand", cmd)
            for o in opts:
                self.assertIn(o, top, f"{cmd}: {o} is not in the top-level usage")

    def test_opt_equals_value_works_like_opt_space_value(self):
        a, b = self.path("a.h5"), self.path("b.h5")
        run("run", self.spec, "-o", a, "--threads", "1", "--simd", "scalar", check=0)
        run("run", self.spec, f"--output={b}", "--threads=2", "--simd=avx2", check=0)
        d = subprocess.run(["h5diff", "--exclude-path", "/provenance","--exclude-path", "/analysis",  "--exclude-path",
                            "/spec", a, b], capture_output=True, text=True)
        self.assertEqual(d.returncode, 0, d.stdout + d.stderr)
        with h5py.File(a, "r") as f:
            job = f["jobs/id"].asstr()[2]
        self.assertIn("bit-identical", run("rerun", a, f"--job={job}", "-j", "1", check=0).stdout)
        p = run("report", a, "--format=csv", "--at=final", "--no-store", check=0)
        self.assertIn(",", p.stdout.splitlines()[0])
        # a flag given a value, a value option without one: usage errors
        self.assertEqual(run("run", self.spec, "--resume=yes").returncode, 2)
        p = run("report", a, "--format")
        self.assertEqual(p.returncode, 2)
        self.assertIn("--format needs a value", p.stderr)

    def test_version_is_meson_builds_with_libraries_and_simd(self):
        out = run("--version", check=0).stdout
        first = out.splitlines()[0]
        self.assertTrue(first.startswith(f"regsweep {project_version()}"), first)
        self.assertIn(f"HDF5 {h5py.version.hdf5_version}", out)
        yaml_v = subprocess.run(["pkg-config", "--modversion", "yaml-0.1"],
                                capture_output=True, text=True).stdout.strip()
        if yaml_v:
            self.assertIn(f"libyaml {yaml_v}", out)
        self.assertRegex(out, r"SIMD paths compiled in: scalar( avx2 avx512)? \(this CPU: "
                              r"(scalar|avx2|avx512)\)")
        if os.path.isdir(os.path.join(ROOT, ".git")):
            rev = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short=12", "HEAD"],
                                 capture_output=True, text=True).stdout.strip()
            self.assertIn(f"(git {rev}", first)

    # ---- provenance ------------------------------------------------------------

    def test_provenance_records_build_and_keeps_a_history_across_resume(self):
        slow = self.path("slow.yaml")
        with open(slow, "w") as f:
            f.write(SLOW.replace("to: 199", "to: 11"))
        out = self.path("slow.h5")
        p = subprocess.Popen([REGSWEEP, "run", slow, "-o", out, "-j", "1"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.assertTrue(wait_for(lambda: n_job_files(self.path("slow.jobs")) >= 1))
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=120)
        self.assertEqual(p.returncode, 130, err)
        with h5py.File(out, "r") as f:
            first = f["provenance"].attrs["started"]
        run("run", slow, "-o", out, "--resume", check=0)
        version = run("--version", check=0).stdout.splitlines()[0]
        with h5py.File(out, "r") as f:
            pv = f["provenance"]
            a = pv.attrs
            self.assertEqual(a["regsweep_version"], project_version())
            self.assertEqual(a["hdf5_version"], h5py.version.hdf5_version)
            self.assertIn(a["simd"], ("scalar", "avx2", "avx512"))
            self.assertIn("scalar", a["simd_compiled"])
            self.assertTrue(a["cpu"])
            if a["git_revision"]:
                self.assertIn(a["git_revision"], version)
            h = pv["history"]
            started = h["started"].asstr()[()]
            commands = h["command"].asstr()[()]
            self.assertEqual(len(started), 2)
            self.assertEqual(started[0], first)        # the first run's record kept
            self.assertNotIn("--resume", commands[0])
            self.assertIn("--resume", commands[1])
            self.assertEqual(len(set(len(h[k]) for k in h)), 1)   # equal-length columns
            # and results are outside /provenance: the regsweep version only
            self.assertEqual(f.attrs["regsweep_version"], project_version())

    # ---- outputs that do not collide ----------------------------------------------

    def test_info_spec_prints_a_spec_that_run_accepts_with_the_same_grid(self):
        out = self.path("o.h5")
        over = ["train.epochs=3", "axes.seed=[4,5]", 'name="tiny: two"']
        run("run", self.spec, "-o", out, *over, check=0)
        text = run("info", out, "--spec", check=0).stdout
        self.assertNotIn("# override", text)
        again = self.path("again.yaml")
        with open(again, "w") as f:
            f.write(text)
        grid = lambda *a: [l.split()[:2] for l in run("expand", *a, check=0).stdout.splitlines()[1:-1]]
        self.assertEqual(grid(again), grid(self.spec, *over))
        # the same results, bit for bit (only the spec's own hash differs)
        out2 = self.path("o2.h5")
        run("run", again, "-o", out2, check=0)
        with h5py.File(out, "r") as f, h5py.File(out2, "r") as g:
            self.assertEqual(g.attrs["name"], "tiny: two")
            bits = lambda d: list(d[()]) if d.dtype.kind == "O" else d[()].tobytes()
            for col in f["jobs"]:
                self.assertEqual(bits(f["jobs"][col]), bits(g["jobs"][col]), col)
            n = 0
            def same(name, obj):
                nonlocal n
                if isinstance(obj, h5py.Dataset):
                    self.assertEqual(bits(obj), bits(g["runs"][name]), name)
                    n += 1
            f["runs"].visititems(same)
            self.assertGreater(n, 6)

    def test_existing_output_of_another_spec_is_refused_and_untouched(self):
        out = self.path("r.h5")
        run("run", self.spec, "-o", out, check=0)
        before = open(out, "rb").read()
        p = run("run", self.spec, "-o", out, "train.lr=0.01")
        self.assertEqual(p.returncode, 2)
        self.assertIn("different spec", p.stderr)
        self.assertIn(f"-o {self.path('r-2.h5')}", p.stderr)
        p = run("run", self.spec, "-o", out)                 # same spec: --resume
        self.assertEqual(p.returncode, 2)
        self.assertIn("--resume", p.stderr)
        self.assertEqual(open(out, "rb").read(), before)
        # the suggestion is free and works as given
        run("run", self.spec, "-o", self.path("r-2.h5"), "train.lr=0.01", check=0)

    def test_output_directory_gets_name_h5_inside(self):
        d = self.path("res")
        os.mkdir(d)
        run("run", self.spec, "-o", d, check=0)
        self.assertTrue(os.path.isfile(os.path.join(d, "tiny.h5")))
        self.assertTrue(os.path.isdir(os.path.join(d, "tiny.jobs")))
        run("run", self.spec, check=0, cwd=self.dir)        # default: results/NAME.h5
        self.assertTrue(os.path.isfile(self.path("results/tiny.h5")))

    def test_resume_command_after_ctrl_c_can_be_pasted(self):
        d = self.path("a dir with 'quotes'")
        os.mkdir(d)
        slow = os.path.join(d, "slow spec.yaml")
        with open(slow, "w") as f:
            f.write(SLOW.replace("to: 199", "to: 39"))
        out = os.path.join(d, "o u t.h5")
        p = subprocess.Popen([REGSWEEP, "run", slow, "-o", out, "-j", "2",
                              "train.epochs=300", "name=it's"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             cwd=self.dir)
        self.assertTrue(wait_for(lambda: n_job_files(os.path.join(d, "o u t.jobs")) >= 2))
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=120)
        self.assertEqual(p.returncode, 130, err)
        lines = err.splitlines()
        cmd = lines[lines.index(next(l for l in lines if "Continue with:" in l)) + 1].strip()
        argv = shlex.split(cmd)
        self.assertEqual(os.path.realpath(argv[0]), os.path.realpath(REGSWEEP))
        q = subprocess.run(cmd, shell=True, capture_output=True, text=True, cwd=self.dir)
        self.assertEqual(q.returncode, 0, q.stderr)
        self.assertIn("already done", q.stderr)
        info = run("info", out, check=0).stdout
        self.assertIn("finished:  40 of 40", info)

    # ---- live state --------------------------------------------------------------

    def test_running_sweep_is_seen_live_and_writers_are_refused(self):
        slow = self.path("slow.yaml")
        with open(slow, "w") as f:
            f.write(SLOW)
        out = self.path("live.h5")
        jobs = self.path("live.jobs")
        p = subprocess.Popen([REGSWEEP, "run", slow, "-o", out, "-j", "1"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            self.assertTrue(wait_for(lambda: n_job_files(jobs) >= 3))
            info = run("info", out, check=0).stdout
            done = int(re.search(r"finished:\s+(\d+) of 200", info).group(1))
            self.assertGreaterEqual(done, 3)      # OUT.h5 itself still lists 0
            self.assertIn("a sweep is running", info)
            self.assertIn(f"pid {p.pid}", info)
            before = open(out, "rb").read()
            r = run("report", out)
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn(f"pid {p.pid}", r.stderr)
            self.assertIn("--no-store", r.stderr)
            r = run("info", out, "--rebuild")
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn("another regsweep process", r.stderr)
            r = run("report", out, "--no-store", check=0)
            m = re.search(r"200 jobs: (\d+) done", r.stdout)
            self.assertGreaterEqual(int(m.group(1)), 3)
            self.assertLessEqual(len(before), os.path.getsize(out) + 10**7)
        finally:
            p.send_signal(signal.SIGTERM)
            p.communicate(timeout=120)
        self.assertEqual(p.returncode, 143)
        # the sweep is stopped: report stores, info --rebuild works
        run("report", out, check=0)
        run("info", out, "--rebuild", check=0)

    def test_rebuild_from_the_packed_file_alone_keeps_every_job(self):
        """FORMAT.md: OUT.jobs/ may be deleted once a sweep is complete;
        info --rebuild then rebuilds from the packed file itself, dropping
        nothing, and a damaged results file is refused untouched."""
        out = self.path("k.h5")
        run("run", self.spec, "-o", out, check=0)
        d = self.path("copy")
        os.mkdir(d)
        copy = os.path.join(d, "k.h5")
        shutil.copyfile(out, copy)
        p = run("info", copy, "--rebuild", check=0)
        self.assertIn("finished:  6 of 6", p.stdout)
        self.assertIn("finished:  6 of 6", run("info", copy, check=0).stdout)
        d = subprocess.run(["h5diff", "--exclude-path", "/provenance",
                            "--exclude-path", "/analysis", out, copy],
                           capture_output=True, text=True)
        self.assertEqual(d.returncode, 0, d.stdout + d.stderr)
        # a /jobs row marked done without its /runs copy: damage, refused
        with h5py.File(copy, "r+") as f:
            victim = f["jobs/id"].asstr()[0]
            del f["runs/" + victim]
        before = open(copy, "rb").read()
        p = run("info", copy, "--rebuild")
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
        self.assertIn(victim, p.stderr)
        self.assertEqual(open(copy, "rb").read(), before)


if __name__ == "__main__":
    unittest.main(verbosity=2)
