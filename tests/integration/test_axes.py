#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""End-to-end tests of extra axes (any key of dataset, model, train, reg or
eval as an axis, docs/SPEC.md "axes"): the /jobs columns, per-job settings in
the job files, rerun, thread counts, common random numbers across an lr
axis, comma sweeps on the command line, and report --baseline on an axis.

Run by meson (`meson test -C build axes`), which passes the regsweep binary
in $REGSWEEP.
"""
import io
import json
import os
import subprocess
import tempfile
import unittest

import h5py
import numpy as np
import pandas as pd

REGSWEEP = os.environ.get("REGSWEEP", "build/regsweep")

SPEC = """\
name: axes
dataset: {kind: sin, n_train: 32, n_test: 40, noise_sd: 0.5, seed: 3}
model: {activation: relu}
train: {epochs: 4, batch_size: 8}
record: {masks: {epochs: [0, -1], steps: [0, 1]}}
axes:
  seed: {from: 0, to: 4}
  keep_prob: [1.0, 0.7]
  train.lr: [0.01, 0.03]
  model.layers: [[1, 8, 8, 1], [1, 12, 12, 1]]
"""


def run(*args, check=None, env=None):
    e = dict(os.environ)
    e.update(env or {})
    p = subprocess.run([REGSWEEP, *args], capture_output=True, text=True, env=e)
    if check is not None and p.returncode != check:
        raise AssertionError(f"regsweep {' '.join(args)} exited {p.returncode}, "
                             f"expected {check}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}")
    return p


def h5diff(a, b):
    return subprocess.run(["h5diff", "--exclude-path", "/provenance",
                           "--exclude-path", "/analysis", a, b],
                          capture_output=True, text=True)


def jobs_table(path):
    with h5py.File(path, "r") as f:
        return pd.DataFrame({k: (v.asstr()[()] if h5py.check_string_dtype(v.dtype) else v[()])
                             for k, v in f["jobs"].items()})


def expand_ids(spec, *overrides):
    """index -> id, and the header, from `regsweep expand`."""
    p = run("expand", spec, *overrides, check=0)
    lines = p.stdout.splitlines()
    rows = [ln.split() for ln in lines[1:] if ln[:1].isdigit() and " jobs = " not in ln]
    return lines[0].split(), rows, p.stdout


class Axes(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.dir = cls.tmp.name
        cls.spec = os.path.join(cls.dir, "axes.yaml")
        with open(cls.spec, "w") as f:
            f.write(SPEC)
        # one sweep on one thread, one on two: shared by the tests below
        cls.one = os.path.join(cls.dir, "one.h5")
        cls.two = os.path.join(cls.dir, "two.h5")
        run("run", cls.spec, "-o", cls.one, "-j", "1", check=0)
        run("run", cls.spec, "-o", cls.two, "-j", "2", check=0)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_threads_give_identical_files(self):
        d = h5diff(self.one, self.two)
        self.assertEqual(d.returncode, 0, d.stdout + d.stderr)
        with h5py.File(self.two, "r") as f:
            self.assertEqual(f["provenance"].attrs["threads"], 2)

    def test_jobs_columns_and_job_files(self):
        df = jobs_table(self.one)
        self.assertEqual(len(df), 5 * 2 * 2 * 2)
        self.assertTrue((df["status"] == "done").all())
        with h5py.File(self.one, "r") as f:
            lr, layers = f["jobs/train.lr"], f["jobs/model.layers"]
            self.assertEqual(lr.dtype, np.float64)
            self.assertTrue(h5py.check_string_dtype(layers.dtype))
            self.assertEqual(lr.attrs["units"], "1")
            self.assertIn("train.lr", lr.attrs["description"])
            self.assertEqual(layers.attrs["units"], "")
            # order: the first axis varies slowest, the seed fastest
            self.assertEqual(list(lr[()][::10]), [0.01, 0.01, 0.03, 0.03])
            self.assertEqual(list(layers.asstr()[()][::10]),
                             ["1-8-8-1", "1-12-12-1", "1-8-8-1", "1-12-12-1"])
            self.assertEqual(list(f["jobs/seed"][:5]), [0, 1, 2, 3, 4])
            for _, row in df.iterrows():
                g = f["runs"][row["id"]]
                self.assertEqual(g.attrs["train.lr"], row["train.lr"])
                self.assertEqual(g.attrs["model.layers"], row["model.layers"])
                width = int(row["model.layers"].split("-")[1])
                self.assertEqual(g["weights/final/W1"].shape, (width, width))
                self.assertEqual(g["curves/test_loss"].shape, (5,))
        # the columns are also in the pandas recipe's frame
        self.assertIn("model.layers", df.columns)

    def test_rerun_is_bit_exact(self):
        df = jobs_table(self.one)
        for i in (0, 17, 39):
            p = run("rerun", self.one, "--job", df["id"][i], check=0)
            self.assertIn("bit-identical", p.stdout)

    def test_jobs_differing_only_in_lr_share_init_and_masks(self):
        """Common random numbers (docs/FORMAT.md): lr is in no counter."""
        df = jobs_table(self.one)
        base = df[(df["seed"] == 2) & (df["keep_prob_1"] == 0.7) &
                  (df["model.layers"] == "1-8-8-1")]
        self.assertEqual(sorted(base["train.lr"]), [0.01, 0.03])
        a, b = base["id"].tolist()
        wide = df[(df["seed"] == 2) & (df["keep_prob_1"] == 0.7) &
                  (df["model.layers"] == "1-12-12-1")]["id"].tolist()[0]
        with h5py.File(self.one, "r") as f:
            ga, gb, gw = f["runs"][a], f["runs"][b], f["runs"][wide]
            for name in ("W0", "b0", "W1", "b1", "W2", "b2"):
                x, y = ga["weights/init"][name][()], gb["weights/init"][name][()]
                self.assertEqual(x.tobytes(), y.tobytes(), name)
            # the first recorded step (epoch 0, step 0) and every other one
            self.assertEqual((ga["masks/epoch"][0], ga["masks/step"][0]), (0, 0))
            for layer in ("layer0", "layer1"):
                self.assertTrue(np.array_equal(ga["masks"][layer][0], gb["masks"][layer][0]))
                self.assertTrue(np.array_equal(ga["masks"][layer][()], gb["masks"][layer][()]))
            # stored once: both names are hard links to one group
            self.assertEqual(ga["weights/init"], gb["weights/init"])
            self.assertEqual(ga["masks"], gb["masks"])
            # the final weights do differ (the lr does something)
            self.assertNotEqual(ga["weights/final/W1"][()].tobytes(),
                                gb["weights/final/W1"][()].tobytes())
            # other layer sizes: other shapes, nothing shared
            self.assertEqual(gw["weights/init/W1"].shape, (12, 12))
            self.assertNotEqual(ga["weights/init"], gw["weights/init"])

    def test_report_baseline_on_an_axis(self):
        """Configs are every combination but the seed; --baseline names the
        lr axis; every table and /analysis name every axis."""
        p = run("report", self.one, "--baseline", "train.lr=0.03,keep_prob=1",
                "--format", "csv", check=0)
        lines = p.stdout.splitlines()
        header = lines[0].split(",")
        for col in ("keep_prob_1", "l2", "l1", "train.lr", "model.layers"):
            self.assertIn(col, header)
        configs = pd.read_csv(io.StringIO(p.stdout), float_precision="round_trip")
        self.assertEqual(len(configs), 8)
        base = configs[configs["is_baseline"] == 1]
        self.assertEqual(len(base), 1)
        self.assertEqual(base["train.lr"].iloc[0], 0.03)
        self.assertEqual(base["keep_prob_1"].iloc[0], 1.0)
        self.assertEqual(base["model.layers"].iloc[0], "1-8-8-1")
        self.assertIn("train.lr 0.03", base["config"].iloc[0])
        # the comparisons: paired by seed against that config, 7 configs
        p = run("report", self.one, "--baseline", "train.lr=0.03,keep_prob=1",
                "--format", "json", "--no-store", check=0)
        doc = json.loads(p.stdout)
        self.assertEqual(doc["baseline"], "keep 1, L2 0, train.lr 0.03, model.layers 1-8-8-1")
        self.assertEqual({c["config"] for c in doc["comparisons"]} & {doc["baseline"]}, set())
        self.assertEqual(len({c["config"] for c in doc["comparisons"]}), 7)
        for c in doc["comparisons"]:
            self.assertIn(c["model.layers"], ("1-8-8-1", "1-12-12-1"))
            self.assertEqual(c["n"], 5)
            self.assertEqual(c["test"], "paired_t")
        # the text names the axes; the baseline's layers may be named as a list
        p = run("report", self.one, "--baseline", "model.layers=[1, 12, 12, 1],train.lr=0.03",
                "--no-store", "--trajectory", check=0)
        self.assertIn("against the baseline keep 1, L2 0, train.lr 0.03, "
                      "model.layers 1-12-12-1", p.stdout)
        # a value not on the axis, a key that is not an axis
        p = run("report", self.one, "--baseline", "train.lr=0.3", "--no-store", check=2)
        self.assertIn("train.lr=0.3 is not a value of the axis (0.01, 0.03)", p.stderr)
        p = run("report", self.one, "--baseline", "train.epochs=4", "--no-store", check=2)
        self.assertIn("not an axis", p.stderr)
        # /analysis (stored by the first report) has the axis columns
        with h5py.File(self.one, "r") as f:
            cfg = f["analysis/configs"]
            self.assertIn("train.lr", cfg)
            self.assertIn("model.layers", cfg)
            traj = f["analysis/trajectory"]
            self.assertEqual(len(traj["epoch"]), 8 * 5)

    def test_plot_tools_name_the_axes(self):
        """The figures group and label configs by every axis, as the report."""
        tools = os.path.join(os.environ.get("RS_SOURCE_ROOT", "."), "tools")
        out = os.path.join(self.dir, "figs")
        copy = os.path.join(self.dir, "plots.h5")
        run("run", self.spec, "-o", copy, check=0)
        run("report", copy, "--baseline", "train.lr=0.03", check=0)
        for tool, extra in (("plot_gap_vs_keep.py", []), ("plot_paired_diff.py", []),
                            ("plot_curves.py", ["--config", "keep 0.7, L2 0, train.lr 0.03, "
                                                "model.layers 1-12-12-1",
                                                "--config", "keep=1 train.lr=0.01 "
                                                "model.layers=[1,8,8,1]"])):
            p = subprocess.run(["/usr/bin/python3", os.path.join(tools, tool), copy,
                                "-o", out + "/", *extra], capture_output=True, text=True)
            self.assertEqual(p.returncode, 0, tool + p.stderr)
            self.assertIn("wrote", p.stdout)
            self.assertIn("model.layers 1-12-12-1", p.stdout, tool)
            self.assertIn("train.lr 0.03", p.stdout, tool)

    def test_shards_balance_by_each_jobs_cost_and_merge(self):
        """Shards (balanced by rs_job_cost, which follows each job's own
        layers and epochs) merged equal the one-process file."""
        for i in (1, 2):
            run("run", self.spec, "-o", os.path.join(self.dir, "m.h5"), "--shard",
                f"{i}/2", check=0)
        run("merge", os.path.join(self.dir, "m.h5"), check=0)
        d = h5diff(self.one, os.path.join(self.dir, "m.h5"))
        self.assertEqual(d.returncode, 0, d.stdout + d.stderr)

    def test_info_names_the_axes(self):
        p = run("info", self.one, check=0)
        self.assertIn("x 2 train.lr x 2 model.layers", p.stdout)
        self.assertIn("model.layers: 1-8-8-1 1-12-12-1", p.stdout)


class Expand(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name
        self.spec = os.path.join(self.dir, "axes.yaml")
        with open(self.spec, "w") as f:
            f.write(SPEC)

    def tearDown(self):
        self.tmp.cleanup()

    def write(self, name, text):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_expand_prints_axis_columns(self):
        header, rows, out = expand_ids(self.spec)
        self.assertEqual(header[-2:], ["train.lr", "model.layers"])
        self.assertEqual(len(rows), 40)
        self.assertEqual(rows[39][-2:], ["0.03", "1-12-12-1"])
        self.assertIn("40 jobs = 5 seeds x 2 keep_prob x 1 l2 x 1 l1 x 2 train.lr "
                      "x 2 model.layers", out)

    def test_ids_do_not_depend_on_axis_order(self):
        swapped = SPEC.replace(
            "  train.lr: [0.01, 0.03]\n  model.layers: [[1, 8, 8, 1], [1, 12, 12, 1]]\n",
            "  model.layers: [[1, 8, 8, 1], [1, 12, 12, 1]]\n  train.lr: [0.01, 0.03]\n")
        self.assertNotEqual(swapped, SPEC)
        _, a, _ = expand_ids(self.spec)
        _, b, _ = expand_ids(self.write("swapped.yaml", swapped))
        by_id_a = {r[1]: (r[2], r[3], set(r[-2:])) for r in a}
        by_id_b = {r[1]: (r[2], r[3], set(r[-2:])) for r in b}
        self.assertEqual(by_id_a, by_id_b)
        self.assertNotEqual([r[1] for r in a], [r[1] for r in b])

    def test_comma_sweep_adds_an_axis(self):
        fixed = SPEC.replace("train: {epochs: 4, batch_size: 8}",
                             "train: {epochs: 4, batch_size: 8, lr: 0.01}")
        fixed = fixed.replace("  train.lr: [0.01, 0.03]\n", "")
        path = self.write("fixed.yaml", fixed)
        header, rows, _ = expand_ids(path)
        self.assertNotIn("train.lr", header)
        self.assertEqual(len(rows), 20)
        header, rows, out = expand_ids(path, "train.lr=0.01,0.03")
        self.assertIn("train.lr", header)
        self.assertIn("x 2 model.layers x 2 train.lr", out)
        # the same jobs as the spec that lists the axis (other order, same ids)
        _, spec_rows, _ = expand_ids(self.spec)
        self.assertEqual(sorted(r[1] for r in rows), sorted(r[1] for r in spec_rows))
        # a single value replaces the axis
        header, rows, _ = expand_ids(self.spec, "train.lr=0.02")
        self.assertNotIn("train.lr", header)
        self.assertEqual(len(rows), 20)

    def test_bad_axis_value_says_where(self):
        bad = self.write("bad.yaml", SPEC.replace("[0.01, 0.03]", "[0.01, -1]"))
        p = run("expand", bad, check=2)
        self.assertIn("bad.yaml:9:20: train.lr: expected a number > 0, got -1", p.stderr)
        p = run("expand", self.spec, "train.epochs=4", "axes.train.epochs=2,3", check=0)
        self.assertIn("train.epochs", p.stdout)
        both = self.write("both.yaml", SPEC.replace("batch_size: 8}", "batch_size: 8, lr: 0.1}"))
        p = run("expand", both, check=2)
        self.assertIn("train.lr is given in train and as an axis", p.stderr)
        p = run("expand", self.spec, "axes.dataset.seed=1,2", check=2)
        self.assertIn("dataset.seed cannot be an axis", p.stderr)

    def test_epochs_axis_gives_each_job_its_curves(self):
        spec = SPEC.replace("train: {epochs: 4, batch_size: 8}",
                            "train: {batch_size: 8, lr: 0.02}")
        spec = spec.replace("  train.lr: [0.01, 0.03]\n", "  train.epochs: [2, 5]\n")
        spec = spec.replace("{from: 0, to: 4}", "[0, 1]")
        path = self.write("epochs.yaml", spec)
        out = os.path.join(self.dir, "e.h5")
        run("run", path, "-o", out, check=0)
        df = jobs_table(out)
        with h5py.File(out, "r") as f:
            for _, row in df.iterrows():
                g = f["runs"][row["id"]]
                E = int(row["train.epochs"])
                self.assertEqual(g["curves/test_loss"].shape, (E + 1,))
                if "masks" in g and "epoch" in g["masks"]:
                    # epochs [0, -1]: the job's own last epoch
                    self.assertEqual(list(g["masks/epoch"][()]), [0, 0, E - 1, E - 1])
        p = run("rerun", out, "--job", df["id"][len(df) - 1], check=0)
        self.assertIn("bit-identical", p.stdout)
        # the trajectory follows each config's own epochs
        p = run("report", out, "--table", "trajectory", "--format", "csv", check=0)
        traj = pd.read_csv(io.StringIO(p.stdout))
        per_config = traj.groupby("config")["epoch"].max()
        self.assertEqual(sorted(set(per_config)), [2, 5])
        for config, group in traj.groupby("config"):
            self.assertEqual(list(group["epoch"]), list(range(int(group["train.epochs"].iloc[0]) + 1)))


MC_SPEC = """\
name: mc
dataset: {kind: sin, n_train: 24, n_test: 30, noise_sd: 0.5, seed: 2}
model: {layers: [1, 8, 8, 1]}
train: {lr: 0.05, epochs: 3, batch_size: 8}
record: {masks: none}
axes:
  seed: [0, 1]
  keep_prob: [1.0, 0.6]
"""


class EvalMcSamples(unittest.TestCase):
    """eval.mc_samples as an axis: its jobs with 0 have no MC curves, the
    others have them, and each job is the one a spec with that value fixed
    computes (training is the same; the MC curves are bit-equal).  The
    older spelling record.mc_dropout_samples writes the same results."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def sweep(self, name, text, *over):
        spec = os.path.join(self.dir, name + ".yaml")
        with open(spec, "w") as f:
            f.write(text)
        out = os.path.join(self.dir, name + ".h5")
        run("run", spec, "-o", out, *over, check=0)
        return out

    @staticmethod
    def curves(path):
        """(seed, keep_prob, mc_samples) -> {curve: values} of every job
        (mc_samples from the /jobs column, else None)."""
        df = jobs_table(path)
        got = {}
        with h5py.File(path, "r") as f:
            for _, row in df.iterrows():
                g = f["runs"][row["id"]]["curves"]
                mc = int(row["eval.mc_samples"]) if "eval.mc_samples" in row else None
                got[(int(row["seed"]), float(row["keep_prob_1"]), mc)] = {
                    k: g[k][()] for k in g}
        return got

    @staticmethod
    def datasets(path):
        got = {}
        with h5py.File(path, "r") as f:
            def visit(name, obj):
                if isinstance(obj, h5py.Dataset):
                    got[name] = obj[()]
            f["jobs"].visititems(lambda n, o: visit("jobs/" + n, o))
            f["runs"].visititems(lambda n, o: visit("runs/" + n, o))
        return got

    def assert_same_curves(self, a, b):
        self.assertEqual(sorted(a), sorted(b))
        for k in a:
            np.testing.assert_array_equal(a[k], b[k], err_msg=k)

    def test_axis_jobs_equal_the_fixed_settings(self):
        axis = self.curves(self.sweep("axis", MC_SPEC + "  eval.mc_samples: [0, 5]\n"))
        fixed = self.curves(self.sweep("fixed", MC_SPEC + "eval: {mc_samples: 5}\n"))
        plain = self.curves(self.sweep("plain", MC_SPEC))
        self.assertEqual(len(axis), 8)
        self.assertEqual(sorted(k[2] for k in axis), [0, 0, 0, 0, 5, 5, 5, 5])
        for (seed, keep, mc), c in axis.items():
            want = fixed[(seed, keep, None)] if mc else plain[(seed, keep, None)]
            self.assertEqual("test_loss_mc" in c, mc == 5)
            self.assert_same_curves(c, want)
        # with keep 0.6, MC dropout is not weight scaling
        c = fixed[(0, 0.6, None)]
        self.assertFalse(np.array_equal(c["test_loss_mc"], c["test_loss"]))
        p = run("rerun", os.path.join(self.dir, "axis.h5"), "--job", "7", check=0)
        self.assertIn("bit-identical", p.stdout)

    def test_older_spelling_and_comma_sweep_write_the_same(self):
        new = self.sweep("new", MC_SPEC + "eval: {mc_samples: 5}\n")
        old = self.sweep("old", MC_SPEC.replace("record: {masks: none}",
                                                "record: {masks: none, mc_dropout_samples: 5}"))
        # every dataset of /jobs and /runs (attributes hash the spec's text)
        a, b = self.datasets(new), self.datasets(old)
        self.assertEqual(sorted(a), sorted(b))
        self.assertTrue(any(k.endswith("curves/test_loss_mc") for k in a))
        for k in a:
            np.testing.assert_array_equal(a[k], b[k], err_msg=k)
        swept = jobs_table(self.sweep("swept", MC_SPEC, "eval.mc_samples=0,5"))
        listed = jobs_table(self.sweep("listed", MC_SPEC + "  eval.mc_samples: [0, 5]\n"))
        self.assertEqual(swept["id"].tolist(), listed["id"].tolist())
        self.assertEqual(swept["eval.mc_samples"].tolist(), listed["eval.mc_samples"].tolist())


if __name__ == "__main__":
    unittest.main(verbosity=2)
