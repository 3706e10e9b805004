#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Fault tests: a missing or read-only output directory, permission lost in
the middle of a sweep, a full disk (a small tmpfs) and a file-size limit
(RLIMIT_FSIZE, what `ulimit -f` sets), a second process on the same
output, and the resume guard (another spec, another format version, files
that are not ours).

Every fault must give a clear message naming the path and a non-zero exit
(never a signal), leave the earlier results intact and readable (OUT.h5
opens, finished job files are byte-identical to an uninterrupted run's),
and, once the fault is gone, `run --resume` must complete the sweep to the
same result (`h5diff --exclude-path /provenance` against the reference).

Root ignores permission bits, so the read-only directory is a tmpfs
remounted read-only and the "permission lost" test runs regsweep as user
nobody (setuid in the child) when run as root.  Tests that need mount(2)
are skipped when it is not allowed (no root, or a container without
CAP_SYS_ADMIN); the RLIMIT_FSIZE tests need no privilege.
"""
import hashlib
import os
import re
import resource
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

import h5py

REGSWEEP = os.path.abspath(os.environ.get("REGSWEEP", "build/regsweep"))

# 60 jobs recording every mask: job files of ~110 KB, so a few MB fill up.
SPEC = """\
name: faults
dataset: {kind: sin, n_train: 100, n_test: 100, noise_sd: 0.5, seed: 1}
model: {layers: [1, 32, 32, 1], activation: relu}
train: {lr: 0.01, epochs: 300, batch_size: 25, shuffle: true}
record: {masks: all}
axes:
  seed: {from: 0, to: 9}
  keep_prob: [1.0, 0.8, 0.5]
  l2: [0, 0.001]
"""
N_JOBS = 60
NOBODY = 65534


def env():
    return dict(os.environ, OMP_NUM_THREADS="2")


def run(*args, preexec=None, cwd=None):
    return subprocess.run([REGSWEEP, *args], env=env(), capture_output=True, text=True,
                          preexec_fn=preexec, cwd=cwd, timeout=300)


def jobs_dir(out):
    return out[:-3] + ".jobs"


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def job_files(out):
    d = jobs_dir(out)
    if not os.path.isdir(d):
        return {}
    return {n: sha(os.path.join(d, n)) for n in os.listdir(d) if n.endswith(".h5")}


def snapshot(root):
    res = {}
    for d, dirs, files in os.walk(root):
        for n in dirs + files:
            p = os.path.join(d, n)
            st = os.lstat(p)
            res[os.path.relpath(p, root)] = (st.st_size, st.st_mtime_ns,
                                             sha(p) if os.path.isfile(p) else "")
    return res


def limit_file_size(n_bytes):
    """For preexec_fn: writes past n_bytes fail with EFBIG instead of
    killing the process with SIGXFSZ (ignored signals stay ignored across
    exec)."""
    def pre():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (n_bytes, n_bytes))
    return pre


def mount_tmpfs(path, size):
    os.makedirs(path, exist_ok=True)
    return subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", path],
                          capture_output=True).returncode == 0


def can_mount():
    if os.geteuid() != 0 or not shutil.which("mount"):
        return False
    d = tempfile.mkdtemp(prefix="rs-mnt-probe-")
    ok = mount_tmpfs(d, "1m")
    if ok:
        subprocess.run(["umount", d])
    os.rmdir(d)
    return ok


CAN_MOUNT = can_mount()


class Base(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="rs-faults-")
        cls.dir = cls.tmp.name
        os.chmod(cls.dir, 0o755)      # user nobody must reach the spec
        cls.spec = os.path.join(cls.dir, "faults.yaml")
        with open(cls.spec, "w") as f:
            f.write(SPEC)
        os.chmod(cls.spec, 0o644)
        cls.ref = os.path.join(cls.dir, "ref.h5")
        # --no-pack keeps the reference job files; info --rebuild packs
        p = run("run", cls.spec, "-o", cls.ref, "--no-pack")
        assert p.returncode == 0, p.stderr
        cls.ref_jobs = job_files(cls.ref)
        assert len(cls.ref_jobs) == N_JOBS
        cls.journal = os.path.join(cls.dir, "journal")
        shutil.copytree(jobs_dir(cls.ref), cls.journal)
        p = run("info", cls.ref, "--rebuild")
        assert p.returncode == 0, p.stderr

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def setUp(self):
        self.mounts = []

    def tearDown(self):
        for m in reversed(self.mounts):
            subprocess.run(["umount", "-l", m], capture_output=True)

    def mount(self, name, size):
        path = os.path.join(self.dir, name)
        if not mount_tmpfs(path, size):
            self.skipTest("cannot mount a tmpfs here")
        self.mounts.append(path)
        return path

    def assert_no_signal(self, p, problems, what):
        if p.returncode < 0:
            problems.append(f"{what}: killed by signal {-p.returncode} "
                            f"(exit code {128 - p.returncode} in a shell)")
        if "HDF5-DIAG" in p.stderr:
            problems.append(f"{what}: HDF5's own error stack was printed")

    def assert_intact(self, out, problems=None):
        """OUT.h5 (if any) opens in h5py and h5dump; finished job files are
        the reference's, byte for byte; a job /jobs marks done is in
        /runs."""
        files = job_files(out)
        for name, digest in files.items():
            self.assertEqual(digest, self.ref_jobs.get(name), f"{name} is damaged")
        if os.path.exists(out):
            d = subprocess.run(["h5dump", "-H", out], capture_output=True, text=True)
            self.assertEqual(d.returncode, 0, d.stderr[-400:])
            with h5py.File(out, "r") as f:
                ids = f["jobs/id"].asstr()[()]
                status = f["jobs/status"].asstr()[()]
                for i, s in zip(ids, status):
                    if s == "done":
                        self.assertIn(i, f["runs"])
        elif problems is not None:
            problems.append(f"{out} does not exist: the sweep cannot be resumed")
        return files

    def resume_and_compare(self, out, preexec=None):
        p = run("run", self.spec, "-o", out, "--resume", preexec=preexec)
        self.assertEqual(p.returncode, 0, p.stderr)
        d = subprocess.run(["h5diff", "--exclude-path", "/provenance", "--exclude-path", "/analysis", self.ref, out],
                           capture_output=True, text=True)
        self.assertEqual(d.returncode, 0, d.stdout[-1000:] + d.stderr[-1000:])


class OutputDirectory(Base):
    def test_missing_directory(self):
        out = os.path.join(self.dir, "no", "such", "dir", "o.h5")
        p = run("run", self.spec, "-o", out)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn(os.path.join(self.dir, "no", "such", "dir"), p.stderr)
        self.assertIn("does not exist", p.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.dir, "no")))

    def test_output_is_a_directory_or_jobs_dir_is_a_file(self):
        # a directory as -o gets NAME.h5 inside it (as cp and mv do); a
        # --resume there finds nothing to resume
        d = os.path.join(self.dir, "adir.h5")
        os.mkdir(d)
        p = run("run", self.spec, "-o", d, "--resume")
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("cannot resume: no such results file", p.stderr)
        self.assertEqual(os.listdir(d), [])
        out = os.path.join(self.dir, "f.h5")
        with open(jobs_dir(out), "w") as f:
            f.write("in the way\n")
        p = run("run", self.spec, "-o", out)
        self.assertNotEqual(p.returncode, 0)
        self.assertGreater(p.returncode, 0)
        self.assertIn(jobs_dir(out), p.stderr)
        self.assertFalse(os.path.exists(out))

    @unittest.skipUnless(CAN_MOUNT, "mount(2) not allowed here")
    def test_read_only_directory(self):
        ro = self.mount("ro", "4m")
        subprocess.run(["mount", "-o", "remount,ro", ro], check=True)
        out = os.path.join(ro, "o.h5")
        p = run("run", self.spec, "-o", out)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn(f"regsweep: {ro}: output directory is not writable", p.stderr)
        self.assertEqual(os.listdir(ro), [])

    def test_permission_lost_mid_sweep(self):
        """The job directory becomes unwritable after some jobs finished:
        a clear error, exit 1, nothing lost; --resume completes once the
        permission is back.  Run as user nobody (root ignores modes)."""
        work = os.path.join(self.dir, "perm")
        os.mkdir(work)
        pre = None
        if os.geteuid() == 0:
            os.chown(work, NOBODY, NOBODY)

            def pre():
                os.setgroups([])
                os.setgid(NOBODY)
                os.setuid(NOBODY)
        out = os.path.join(work, "o.h5")
        proc = subprocess.Popen([REGSWEEP, "run", self.spec, "-o", out], env=env(),
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                text=True, preexec_fn=pre)
        while len(job_files(out)) < 10 and proc.poll() is None:
            time.sleep(0.002)
        self.assertIsNone(proc.poll(), "the sweep finished first")
        os.chmod(jobs_dir(out), 0o555)
        _, err = proc.communicate(timeout=120)
        os.chmod(jobs_dir(out), 0o755)
        self.assertEqual(proc.returncode, 1, err)
        self.assertIn(f"regsweep: {jobs_dir(out)}/", err)
        self.assertTrue("Permission denied" in err or "not writable" in err, err)
        # (HDF5's error stack is also printed when the failing job ran on a
        # worker thread other than the main one: see test_disk_full_then_resume;
        # not checked here, where it depends on which thread ran the job)
        files = self.assert_intact(out)
        self.assertGreaterEqual(len(files), 10)
        self.resume_and_compare(out, preexec=pre)


class FullDisk(Base):
    @unittest.skipUnless(CAN_MOUNT, "mount(2) not allowed here")
    def test_disk_full_then_resume(self):
        """A tmpfs fills while the sweep writes its job files.

        Known bugs (src/store.c): (1) when HDF5's writes fail, H5Ocopy in
        copy_runs() (the OUT.h5 rewrite) crashes inside HDF5 1.10.8, and a
        file whose H5Fclose failed makes HDF5's atexit handler crash: exit
        139 (SIGSEGV) instead of 1; (2) HDF5 prints its error stack from the
        worker threads (H5Eset_auto2 in rs_store_init only silences the main
        thread of a thread-safe HDF5)."""
        mnt = self.mount("full", "40m")
        out = os.path.join(mnt, "o.h5")
        # the space check passes (40 MB); once ~10 job files exist a filler
        # takes all the room left, so the job writes meet a full disk
        proc = subprocess.Popen([REGSWEEP, "run", self.spec, "-o", out], env=env(),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        while len(job_files(out)) < 10 and proc.poll() is None:
            time.sleep(0.002)
        with open(os.path.join(mnt, "filler"), "wb") as f:
            try:
                while True:
                    f.write(b"\0" * 65536)
                    f.flush()
            except OSError:
                pass
        stdout, stderr = proc.communicate(timeout=300)
        p = subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)
        problems = []
        self.assert_no_signal(p, problems, "disk full")
        if p.returncode == 0:
            self.fail("the sweep fit in 3 MB; the test needs a smaller tmpfs")
        if p.returncode > 0:
            self.assertEqual(p.returncode, 1, p.stderr)
            last = p.stderr.strip().splitlines()[-1]
            self.assertTrue(last.startswith(f"regsweep: {mnt}/"), last)
            self.assertTrue("No space left" in last or "disk full" in last, last)
        files = self.assert_intact(out, problems)
        self.assertGreater(len(files), 0)
        self.assertLess(len(files), N_JOBS)
        os.unlink(os.path.join(mnt, "filler"))
        if os.path.exists(out):
            self.resume_and_compare(out)
        self.assertEqual(problems, [], "\n" + p.stderr[-3000:])

    def test_file_size_limit_on_the_results_file(self):
        """RLIMIT_FSIZE of 2 MB: every job file fits, the final OUT.h5 (a
        copy of all of them, ~10 MB) does not.  Expected: exit 1 naming
        OUT.h5.<pid>.tmp, the previous OUT.h5 and all job files intact.  Known
        bug: exit 139, see test_disk_full_then_resume."""
        out = os.path.join(self.dir, "fsize.h5")
        p = run("run", self.spec, "-o", out, preexec=limit_file_size(2 << 20))
        problems = []
        self.assert_no_signal(p, problems, "RLIMIT_FSIZE 2 MB")
        if p.returncode >= 0:
            self.assertEqual(p.returncode, 1, p.stderr)
            self.assertRegex(p.stderr, re.escape(f"regsweep: {out}.") + r"\d+\.tmp")
        files = self.assert_intact(out, problems)
        self.assertEqual(len(files), N_JOBS)
        self.resume_and_compare(out)
        left = [n for n in os.listdir(self.dir)
                if n.startswith("fsize.h5.") and n.endswith(".tmp")]
        self.assertEqual(left, [], "OUT.h5's temporary file left behind")
        self.assertEqual(problems, [], "\n" + p.stderr[-3000:])

    def test_file_size_limit_on_job_files(self):
        """RLIMIT_FSIZE of 64 KB: OUT.h5 at the start fits (~43 KB), job
        files with masks (~300 KB) do not; those without (keep 1.0, ~44 KB)
        do.  Expected: exit 1 naming the job's .tmp file; nothing
        finished, nothing half-written; --resume completes."""
        out = os.path.join(self.dir, "fsize_jobs.h5")
        p = run("run", self.spec, "-o", out, preexec=limit_file_size(64 << 10))
        problems = []
        self.assert_no_signal(p, problems, "RLIMIT_FSIZE 64 KB")
        if p.returncode >= 0:
            self.assertEqual(p.returncode, 1, p.stderr)
            self.assertIn(f"regsweep: {jobs_dir(out)}/", p.stderr)
        # the job files that fit are whole and the reference's; none with masks
        written = self.assert_intact(out, problems)
        self.assertLess(len(written), N_JOBS)
        for name in written:
            self.assertLess(os.path.getsize(os.path.join(jobs_dir(out), name)), 64 << 10)
        self.resume_and_compare(out)
        self.assertEqual(problems, [], "\n" + p.stderr[-3000:])


class ResumeGuard(Base):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.other = os.path.join(cls.dir, "other.yaml")
        with open(cls.other, "w") as f:
            f.write(SPEC.replace("lr: 0.01", "lr: 0.005"))
        cls.other_out = os.path.join(cls.dir, "other.h5")
        p = run("run", cls.other, "-o", cls.other_out, "--no-pack")
        assert p.returncode == 0, p.stderr

    def fresh_copy(self, name):
        """The packed reference, with its job files back (as if a run had
        been killed before packing)."""
        out = os.path.join(self.dir, name)
        shutil.copy(self.ref, out)
        shutil.copytree(self.journal, jobs_dir(out))
        return out

    def refused(self, out, fragment, *extra, spec=None):
        before = snapshot(os.path.dirname(out))
        p = run("run", spec or self.spec, "-o", out, "--resume", *extra)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn(fragment, p.stderr)
        self.assertEqual(snapshot(os.path.dirname(out)), before, "refused, but wrote")
        return p

    def test_different_spec_text(self):
        out = self.fresh_copy("g1.h5")
        p = self.refused(out, "different spec", spec=self.other)
        self.assertIn(f"regsweep: {out}:", p.stderr)
        self.assertIn("lr: 0.005", p.stderr)     # the first differing line

    def test_different_overrides(self):
        out = self.fresh_copy("g2.h5")
        self.refused(out, "different spec", "train.lr=0.005")

    def test_other_format_version(self):
        out = self.fresh_copy("g3.h5")
        with h5py.File(out, "r+") as f:
            f.attrs["format_version"] = 3
        self.refused(out, "format version 3")

    def test_not_ours(self):
        out = self.fresh_copy("g4.h5")
        with h5py.File(out, "r+") as f:
            f.attrs["format"] = "something-else"
        self.refused(out, "not a regsweep results file")
        junk = os.path.join(self.dir, "g5.h5")
        with h5py.File(junk, "w") as f:
            f["x"] = [1, 2, 3]
        self.refused(junk, "not a regsweep results file")
        text = os.path.join(self.dir, "g6.h5")
        with open(text, "w") as f:
            f.write("name,value\n")
        self.refused(text, "not an HDF5 file")

    def test_foreign_or_damaged_job_file(self):
        """OUT.jobs is what --resume trusts: a job file of another sweep
        (same grid point, another spec) or a damaged one is refused with
        its name, never silently reused or overwritten."""
        out = self.fresh_copy("g7.h5")
        victim = sorted(job_files(out))[3]
        path = os.path.join(jobs_dir(out), victim)
        shutil.copy(os.path.join(jobs_dir(self.other_out), victim), path)
        self.refused(out, "made by another spec")
        p = self.refused(out, victim)
        self.assertIn(f"regsweep: {path}:", p.stderr)
        with open(path, "wb") as f:
            with open(os.path.join(self.journal, victim), "rb") as g:
                f.write(g.read()[:3000])
        self.refused(out, "damaged")
        shutil.copy(os.path.join(self.journal, victim), path)
        with h5py.File(path, "r+") as f:
            f.attrs["format_version"] = 7
        self.refused(out, "format version 7")

    def test_second_process_on_the_same_output(self):
        out = os.path.join(self.dir, "busy.h5")
        proc = subprocess.Popen([REGSWEEP, "run", self.spec, "-o", out], env=env(),
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        while not os.path.exists(out) and proc.poll() is None:
            time.sleep(0.002)
        p = run("run", self.spec, "-o", out, "--resume")
        _, err = proc.communicate(timeout=120)
        self.assertEqual(proc.returncode, 0, err)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("another regsweep process", p.stderr)
        d = subprocess.run(["h5diff", "--exclude-path", "/provenance", "--exclude-path", "/analysis", self.ref, out],
                           capture_output=True, text=True)
        self.assertEqual(d.returncode, 0, d.stdout[-500:])

    def test_there_is_no_force_option(self):
        out = self.fresh_copy("g8.h5")
        self.refused(out, "unknown option '--force'", "--force", spec=self.other)


if __name__ == "__main__":
    unittest.main(verbosity=2)
