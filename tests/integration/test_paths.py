#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Results files that survive their surroundings: planted links, symlinked
results files, long paths, FIFOs, readers holding the file, job files that
vanish while a sweep runs.

Run by meson, which passes the regsweep binary in $REGSWEEP.
"""
import os
import subprocess
import tempfile
import time
import unittest

import h5py
import numpy as np

REGSWEEP = os.environ.get("REGSWEEP", "build/regsweep")

SPEC = """\
name: paths
dataset: {kind: sin, n_train: 32, n_test: 20, noise_sd: 0.5, seed: 3}
model: {layers: [1, 8, 1], activation: relu}
train: {lr: 0.02, epochs: 4, batch_size: 8, shuffle: true}
record: {masks: none}
axes:
  seed: {from: 0, to: 4}
  keep_prob: [1.0, 0.5]
"""


def run(*args, check=None, timeout=120):
    p = subprocess.run([REGSWEEP, *args], capture_output=True, text=True, timeout=timeout,
                       env=dict(os.environ, OMP_NUM_THREADS="2"))
    if check is not None and p.returncode != check:
        raise AssertionError(f"regsweep {' '.join(args)} exited {p.returncode}, expected "
                             f"{check}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}")
    return p


def read(path):
    with open(path, "rb") as f:
        return f.read()


class Paths(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name
        self.spec = os.path.join(self.dir, "paths.yaml")
        with open(self.spec, "w") as f:
            f.write(SPEC)

    def tearDown(self):
        self.tmp.cleanup()

    def path(self, *names):
        return os.path.join(self.dir, *names)

    def test_planted_tmp_links_are_never_followed(self):
        out = self.path("o.h5")
        victim = self.path("victim.txt")
        with open(victim, "w") as f:
            f.write("precious\n")
        # the names older versions wrote through, and one in the job folder
        os.symlink(victim, out + ".tmp")
        run("run", self.spec, "-o", out, check=0)
        os.symlink(victim, self.path("o.jobs", "0123456789ab.h5.tmp"))
        run("run", self.spec, "-o", out, "--resume", check=0)
        run("report", out, check=0)
        self.assertEqual(read(victim), b"precious\n")
        with h5py.File(out, "r") as f:
            self.assertIn("analysis", f)

    def test_symlinked_results_file_is_updated_where_it_points(self):
        real_dir = self.path("real")
        os.mkdir(real_dir)
        out = os.path.join(real_dir, "o.h5")
        run("run", self.spec, "-o", out, check=0)
        link = self.path("link.h5")
        os.symlink(out, link)
        run("report", link, check=0)
        self.assertTrue(os.path.islink(link), "report replaced the link with a copy")
        with h5py.File(out, "r") as f:
            self.assertIn("analysis", f)
        self.assertEqual([n for n in os.listdir(self.dir) if n.endswith(".tmp")], [])

    def test_long_paths_are_used_whole_or_refused(self):
        # ~1,100 bytes: longer than the old 1024-byte buffers
        d = self.dir
        while len(d) < 1100:
            d = os.path.join(d, "d" * 60)
        os.makedirs(d)
        out = os.path.join(d, "o.h5")
        self.assertGreater(len(out), 1024)
        p = subprocess.Popen([REGSWEEP, "run", self.spec, "-o", out],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        _, err = p.communicate(timeout=120)
        self.assertEqual(p.returncode, 0, err)
        # packed whole into o.h5: no job file left under a truncated name
        jobs = os.listdir(os.path.join(d, "o.jobs"))
        self.assertEqual([n for n in jobs if n.endswith(".h5")], [])
        self.assertEqual(os.listdir(d).count("o.h5"), 1)
        self.assertIn("10 already done", run("run", self.spec, "-o", out, "--resume",
                                             check=0).stderr)
        self.assertIn("finished:  10 of 10", run("info", out, check=0).stdout)
        # past the limit: refused by name, nothing created
        long_out = self.path("x" * 200, *(["y" * 200] * 20), "o.h5")
        p = run("run", self.spec, "-o", long_out)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("too long", p.stderr)

    def test_fifo_data_and_results_files_are_refused_without_blocking(self):
        fifo = self.path("images.fifo")
        os.mkfifo(fifo)
        spec = self.path("idx.yaml")
        with open(spec, "w") as f:
            f.write(f"name: idx\ndataset: {{kind: idx, dir: {self.dir}, "
                    f"train_images: images.fifo}}\nmodel: {{layers: [784, 10, 10]}}\n"
                    f"train: {{lr: 0.1, epochs: 1}}\naxes: {{seed: [0]}}\n")
        # a blocked open would never return: the timeout (an error) says so
        p = run("run", spec, "-o", self.path("i.h5"), timeout=60)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("not a regular file", p.stderr)
        self.assertIn(fifo, p.stderr)
        p = run("info", fifo, timeout=60)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("not a regular file", p.stderr)

    def test_readers_holding_the_file_do_not_make_report_fail(self):
        out = self.path("r.h5")
        run("run", self.spec, "-o", out, check=0)
        with h5py.File(out, "r") as held:      # h5py takes HDF5's shared lock
            self.assertIn("jobs", held)
            run("report", out, check=0)
            run("info", out, check=0)
            run("report", out, "--no-store", check=0)
        with h5py.File(out, "r") as f:
            self.assertIn("analysis", f)

    def test_job_files_vanishing_mid_run_is_exit_1_and_resume_recomputes(self):
        slow = self.path("slow.yaml")
        with open(slow, "w") as f:
            # ~0.1 s jobs: the sweep is caught well before its final rewrite
            f.write(SPEC.replace("epochs: 4", "epochs: 150").replace("to: 4", "to: 29")
                    .replace("n_train: 32", "n_train: 256")
                    .replace("[1, 8, 1]", "[1, 64, 64, 1]").replace("lr: 0.02", "lr: 0.005"))
        out = self.path("v.h5")
        jobs = self.path("v.jobs")
        # (a few of these jobs diverge: beside the point here)
        p = subprocess.Popen([REGSWEEP, "run", slow, "-o", out, "-j", "1",
                              "--allow-diverged"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        gone = None
        while time.monotonic() < deadline and p.poll() is None:
            names = sorted(n for n in os.listdir(jobs) if n.endswith(".h5")) \
                if os.path.isdir(jobs) else []
            if len(names) >= 3:
                gone = names[0]
                os.unlink(os.path.join(jobs, gone))
                break
            time.sleep(0.01)
        _, err = p.communicate(timeout=300)
        self.assertIsNotNone(gone, "the sweep finished before a job file could go")
        self.assertEqual(p.returncode, 1, err)
        self.assertIn("vanished", err)
        self.assertIn(gone, err)
        p = run("run", slow, "-o", out, "--resume", "--allow-diverged", check=0)
        self.assertIn("to run", p.stderr)
        self.assertIn("finished:  60 of 60", run("info", out, "--verify", check=0).stdout)
        with h5py.File(out, "r") as f:
            self.assertIn(gone[:-3], f["runs"])


    def test_damaged_job_content_is_never_trusted(self):
        out = self.path("c.h5")
        # --no-pack: the finished jobs stay job files, as a killed run's do
        run("run", self.spec, "-o", out, "--no-pack", check=0)
        jobs = self.path("c.jobs")
        names = sorted(n for n in os.listdir(jobs) if n.endswith(".h5"))
        ref = {n: read(os.path.join(jobs, n)) for n in names}
        # one changed value in each kind of dataset and in an attribute:
        # the job file stays valid HDF5, only its content is wrong
        edits = [("curves/test_loss", 2), ("weights/final/W0", 0),
                 ("weights/init/b1", 0), ("curves/epoch", 1)]
        victims = names[:len(edits) + 1]
        for name, (ds, i) in zip(victims, edits):
            with h5py.File(os.path.join(jobs, name), "r+") as f:
                v = f[ds][()]
                flat = v.reshape(-1)
                flat[i] = flat[i] + (1 if flat.dtype.kind == "u" else 1e-6)
                f[ds][...] = v
        with h5py.File(os.path.join(jobs, victims[-1]), "r+") as f:
            f.attrs["l2"] = 0.5
        p = run("run", self.spec, "-o", out, "--resume", "--no-pack", check=0)
        for name in victims:
            self.assertIn(f"{name}: damaged", p.stderr)
        self.assertIn(f"{len(names) - len(victims)} already done", p.stderr)
        # recomputed: bit for bit the files they were
        for name in victims:
            self.assertEqual(read(os.path.join(jobs, name)), ref[name], name)
        # a damaged job file is never packed: info --rebuild refuses, naming it
        with h5py.File(os.path.join(jobs, victims[0]), "r+") as f:
            f["curves/test_loss"][0] += 1
        p = run("info", out, "--rebuild")
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
        self.assertIn(f"{victims[0]}: damaged", p.stderr)
        with open(os.path.join(jobs, victims[0]), "wb") as f:
            f.write(ref[victims[0]])
        self.assertIn("finished:  10 of 10", run("info", out, "--rebuild", check=0).stdout)
        # a damaged copy inside OUT.h5 (all a user may have been sent)
        alone = self.path("alone")
        os.mkdir(alone)
        copy = os.path.join(alone, "c.h5")
        with open(copy, "wb") as f:
            f.write(read(out))
        with h5py.File(copy, "r+") as f:
            d = f["runs"][names[0][:-3]]["curves/train_loss"]
            v = d[()]
            v[1] += 1e-6
            d[...] = v
        # info counts from the table; --verify and report check every job
        self.assertEqual(run("info", copy).returncode, 0)
        for cmd in (["info", copy, "--verify"], ["report", copy, "--no-store"]):
            p = run(*cmd)
            self.assertEqual(p.returncode, 2, cmd)
            self.assertIn("damaged", p.stderr)
            self.assertIn(names[0][:-3], p.stderr)
        # rerun compares every bit with a recomputation and says where
        p = run("rerun", copy, "--job", names[0][:-3])
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn("curves/train_loss differs first at epoch 1", p.stdout)


    def test_a_damaged_runs_or_jobs_group_is_never_read_as_not_run(self):
        out = self.path("d.h5")
        run("run", self.spec, "-o", out, check=0)
        alone = self.path("alone")
        os.mkdir(alone)
        copy = os.path.join(alone, "d.h5")
        with open(copy, "wb") as f:
            f.write(read(out))
        with h5py.File(copy, "r+") as f:
            job = f["jobs/id"].asstr()[4]
            del f["runs"][job]            # /jobs still says done
        for cmd in (["info", copy], ["report", copy, "--no-store"]):
            p = run(*cmd)
            self.assertEqual(p.returncode, 2, (cmd, p.stdout, p.stderr))
            self.assertIn(f"marks job {job} done", p.stderr)
            self.assertIn("/runs does not hold it", p.stderr)
        with h5py.File(copy, "r+") as f:
            st = f["jobs/status"].asstr()[()].astype(object)
            st[1] = "dnoe"
            del f["jobs/status"]
            f["jobs"].create_dataset("status", data=st.astype("S"),
                                     dtype=h5py.string_dtype())
        p = run("info", copy)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("damaged /jobs/status: row 1 is 'dnoe'", p.stderr)

    def test_a_value_read_as_one_must_hold_one(self):
        """HDF5 writes every element a dataset or attribute holds into the
        reader's buffer: a file that holds four where regsweep reads one
        overran the stack (exit 0 in release builds)."""
        out = self.path("one.h5")
        run("run", self.spec, "-o", out, check=0)

        def four_strings(f):
            f.attrs.create("format", [f.attrs["format"]] * 4, dtype=h5py.string_dtype())

        def four_ints(f):
            f.attrs.create("format_version", np.full(4, f.attrs["format_version"], "<i8"))

        def four_yaml(f):
            text = f["spec/yaml"][()]
            del f["spec/yaml"]
            f["spec"].create_dataset("yaml", data=[text] * 4, dtype=h5py.string_dtype())

        cases = [(four_strings, "not a regsweep results file"),
                 (four_ints, "no readable format_version (one integer)"),
                 (four_yaml, "no readable /spec/yaml (one string)")]
        for edit, message in cases:
            copy = self.path(f"{edit.__name__}.h5")
            with open(copy, "wb") as f:
                f.write(read(out))
            with h5py.File(copy, "r+") as f:
                edit(f)
            for cmd in (["info", copy], ["report", copy, "--no-store"]):
                p = run(*cmd)
                self.assertEqual(p.returncode, 2, (cmd, p.stdout, p.stderr))
                self.assertIn(message, p.stderr)
        # the same in a job file, which --resume reads
        jobs = self.path("journal.h5")
        run("run", self.spec, "-o", jobs, "--no-pack", check=0)
        job = sorted(os.listdir(self.path("journal.jobs")))
        job = [j for j in job if j.endswith(".h5")][0]
        with h5py.File(self.path("journal.jobs", job), "r+") as f:
            four_ints(f)
        p = run("info", jobs)
        self.assertEqual(p.returncode, 2, (p.stdout, p.stderr))
        self.assertIn(job, p.stderr)
        self.assertIn("no readable format_version (one integer)", p.stderr)

    def test_hdf5_tools_handle_a_sweep_without_overrides(self):
        a, b = self.path("a.h5"), self.path("b.h5")
        run("run", self.spec, "-o", a, check=0)
        run("run", self.spec, "-o", b, "-j", "1", check=0)
        d = subprocess.run(["h5diff", "--exclude-path", "/provenance", "--exclude-path", "/analysis", a, b],
                           capture_output=True, text=True)
        self.assertEqual(d.returncode, 0, d.stdout + d.stderr)
        self.assertNotIn("not comparable", d.stdout + d.stderr)
        packed = self.path("packed.h5")
        r = subprocess.run(["h5repack", a, packed], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        with h5py.File(packed, "r") as f:
            self.assertIn("yaml", f["spec"])
        self.assertIn("finished:  10 of 10", run("info", packed, check=0).stdout)


if __name__ == "__main__":
    unittest.main(verbosity=2)
