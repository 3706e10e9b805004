#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Tests of the analysis side: tools/plot_*.py and the recipes of
docs/ANALYSIS.md, on a small sweep made by the regsweep binary in $REGSWEEP.

The sweep (sin data, 5 seeds x keep 1.0/0.8/0.5 x l2 0/0.001, minibatches
with a short last one, every mask recorded) is written once to
TMP/results/ch311_sin.h5, the path the docs use, and `regsweep report`
stores /analysis in it.  Truths used: PNG structure from the PNG
specification (signature, IHDR, CRC-32 of every chunk), published t-table
quantiles, the C report's /analysis tables (computed by the stats module,
independently of the Python scripts), and masks unpacked here.
"""
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import unittest
import zlib

import h5py
import numpy as np
import pandas as pd

REGSWEEP = os.environ.get("REGSWEEP", "build/regsweep")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOLS = os.path.join(ROOT, "tools")
DOC = os.path.join(ROOT, "docs", "ANALYSIS.md")
sys.path.insert(0, TOOLS)
import rsread  # noqa: E402

SPEC = """\
name: tools_small
dataset: {kind: sin, n_train: 90, n_test: 100, noise_sd: 0.5, seed: 1}
model: {layers: [1, 24, 16, 1], activation: relu}
train: {lr: 0.01, epochs: 25, batch_size: 25, shuffle: true}
record: {masks: all}
axes:
  seed: {from: 0, to: 4}
  keep_prob: [1.0, 0.8, 0.5]
  l2: [0, 0.001]
"""
FASHION = "/usr/share/datasets/fashion-mnist"
CLASSIFIER = """\
name: fm_tiny
dataset: {kind: idx, dir: %s, max_train: 600, max_test: 300}
model: {layers: [784, 16, 16, 10], activation: relu, init: normal, init_sd: 0.01,
        loss: softmax_cross_entropy}
train: {lr: 0.5, epochs: 3, batch_size: 100, shuffle: true}
record: {masks: {epochs: [0], steps: [0]}}
axes:
  seed: {from: 0, to: 2}
  keep_prob: [1.0, [0.8, 0.5]]
  l2: [0, 0.001]
""" % FASHION
NO_MASKS = SPEC.replace("name: tools_small", "name: no_masks").replace(
    "record: {masks: all}", "record: {masks: none}").replace("to: 4", "to: 1")


def run(cmd, cwd=None, check=None):
    env = dict(os.environ, MPLCONFIGDIR=Tools.tmp.name)
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, env=env)
    if check is not None and p.returncode != check:
        raise AssertionError(f"{' '.join(cmd)} exited {p.returncode}, expected {check}\n"
                             f"stdout:\n{p.stdout}\nstderr:\n{p.stderr}")
    return p


def tool(name, *args, cwd=None, check=0):
    return run([sys.executable, os.path.join(TOOLS, name), *args], cwd=cwd, check=check)


def table(group):
    return pd.DataFrame({k: v.asstr()[()] if h5py.check_string_dtype(v.dtype) else v[()]
                         for k, v in group.items()})


def printed_table(stdout):
    """The whitespace-separated table a script printed (header row first)."""
    lines = [ln for ln in stdout.splitlines() if ln and not ln.startswith("wrote ")]
    return [ln.split() for ln in lines]


class Tools(unittest.TestCase):
    tmp = None

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.dir = cls.tmp.name
        os.mkdir(os.path.join(cls.dir, "results"))
        cls.h5 = os.path.join(cls.dir, "results", "ch311_sin.h5")
        spec = os.path.join(cls.dir, "small.yaml")
        with open(spec, "w") as f:
            f.write(SPEC)
        run([REGSWEEP, "run", spec, "-o", cls.h5], check=0)
        run([REGSWEEP, "report", cls.h5], check=0)
        with h5py.File(cls.h5, "r") as f:
            cls.jobs = table(f["jobs"])

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def out(self, name):
        return os.path.join(self.dir, name)

    # ---- PNG validity, from the PNG specification -------------------------

    def assertValidPNG(self, path):
        self.assertTrue(os.path.isfile(path), path)
        with open(path, "rb") as f:
            data = f.read()
        self.assertGreater(len(data), 1000)
        self.assertEqual(data[:8], b"\x89PNG\r\n\x1a\n")
        pos, chunks = 8, []
        while pos < len(data):
            length, kind = struct.unpack(">I4s", data[pos:pos + 8])
            body = data[pos + 8:pos + 8 + length]
            crc, = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
            self.assertEqual(zlib.crc32(kind + body) & 0xFFFFFFFF, crc, f"{path}: {kind} CRC")
            chunks.append((kind, body))
            pos += 12 + length
        self.assertEqual(pos, len(data))
        self.assertEqual(chunks[0][0], b"IHDR")
        self.assertEqual(len(chunks[0][1]), 13)
        width, height, depth, color = struct.unpack(">IIBB", chunks[0][1][:10])
        self.assertTrue(200 < width < 5000 and 200 < height < 5000, (width, height))
        self.assertIn(depth, (8, 16))
        self.assertEqual(chunks[-1][0], b"IEND")
        self.assertIn(b"IDAT", [k for k, _ in chunks])
        import matplotlib.image
        img = matplotlib.image.imread(path)
        self.assertEqual(img.shape[:2], (height, width))
        self.assertGreater(float(np.ptp(img)), 0)        # not a blank image
        try:
            from PIL import Image
        except ImportError:
            return
        with Image.open(path) as im:
            im.verify()

    # ---- the scripts ------------------------------------------------------

    def test_t_quantiles_match_published_tables(self):
        """Two-sided 95% t quantiles (any t table, e.g. Fisher & Yates)."""
        for df, t in [(1, 12.706), (2, 4.303), (3, 3.182), (4, 2.776), (5, 2.571),
                      (9, 2.262), (10, 2.228), (30, 2.042), (120, 1.980)]:
            self.assertAlmostEqual(rsread.t_quantile(0.95, df), t, places=3, msg=f"df {df}")
        self.assertAlmostEqual(rsread.t_quantile(0.99, 9), 3.250, places=3)
        # df 1 is the Cauchy law: P(|T| < t) = 2 atan(t) / pi exactly
        self.assertAlmostEqual(rsread.t_quantile(0.95, 1), np.tan(0.475 * np.pi), places=9)

    def test_plot_curves_defaults_and_configs(self):
        p = tool("plot_curves.py", self.h5, "-o", self.out("figs"))
        png = self.out("figs/tools_small_curves.png")
        self.assertValidPNG(png)
        self.assertIn("keep=1 l2=0 l1=0: 5 seeds", p.stdout)       # the baseline
        self.assertIn("keep=0.5 l2=0 l1=0: 5 seeds", p.stdout)     # the strongest dropout
        # the printed final means are the /jobs means of the same config
        m = re.search(r"keep=0.5 l2=0 l1=0: 5 seeds; final mean train loss (\S+), "
                      r"test loss (\S+), gap (\S+)", p.stdout)
        rows = self.jobs[(self.jobs.keep_prob_1 == 0.5) & (self.jobs.l2 == 0)]
        for value, col in zip(m.groups(), ("train_loss", "test_loss", "gap")):
            self.assertAlmostEqual(float(value), rows[col].mean(), delta=1e-5 * abs(float(value)))
        tool("plot_curves.py", self.h5, "--config", "keep=0.8 l2=0.001",
             "--config", "keep=0.5 l2=0 l1=0", "--band", "sd", "--logy",
             "-o", self.out("chosen.png"))
        self.assertValidPNG(self.out("chosen.png"))
        p = tool("plot_curves.py", self.h5, "--config", "keep=0.5", check=2)
        self.assertIn("matches 2 configs", p.stderr)
        p = tool("plot_curves.py", self.h5, "--config", "keep=0.3", check=2)
        self.assertIn("no config", p.stderr)

    def test_default_output_folder_is_results(self):
        tool("plot_gap_vs_keep.py", "results/ch311_sin.h5", cwd=self.dir)
        self.assertValidPNG(self.out("results/tools_small_gap_vs_keep.png"))

    def test_gap_vs_keep_numbers_equal_the_reports(self):
        """The plotted means and t-intervals equal /analysis/configs, which
        the C stats module computed."""
        p = tool("plot_gap_vs_keep.py", self.h5, "-o", self.out("figs"))
        self.assertValidPNG(self.out("figs/tools_small_gap_vs_keep.png"))
        self.assertEqual(printed_table(p.stdout)[0],
                         ["config", "metric", "n", "mean", "ci_lo", "ci_hi"])
        self.check_against_report(self.h5, p.stdout, ("gap",))
        tool("plot_gap_vs_keep.py", self.h5, "--at", "best", "-o", self.out("best.png"))
        self.assertValidPNG(self.out("best.png"))

    def test_dropout_hist_uses_the_stored_masks(self):
        p = tool("plot_dropout_hist.py", self.h5, "-o", self.out("figs"))
        self.assertValidPNG(self.out("figs/tools_small_dropout_hist.png"))
        rows = printed_table(p.stdout)
        self.assertEqual(rows[0][:4], ["wanted", "keep", "job", "layer"])
        self.assertEqual([float(r[1]) for r in rows[1:]], [1.0, 0.8, 0.5])
        with h5py.File(self.h5, "r") as f:
            for _, keep, job, layer, values, zeros, _, mean_in, mean_out, sd_out, _ in rows[2:]:
                masks = f["runs"][job]["masks"]
                m = masks[f"layer{layer}"]
                self.assertEqual(m.attrs["keep_prob"], float(keep))
                # every recorded row, unpacked here: the share of zeros must
                # be the share of 0 bits (N(0,1) draws are never exactly 0)
                bits = [np.unpackbits(m[r, :masks["n_rows"][r]], axis=1,
                                      bitorder="little")[:, :m.attrs["n_units"]]
                        for r in range(m.shape[0])]
                bits = np.concatenate(bits)[:5000]
                self.assertEqual(int(values), bits.size)
                self.assertAlmostEqual(float(zeros), 1 - bits.mean(), delta=1e-4)
                self.assertLess(abs(float(zeros) - (1 - float(keep))), 0.02)
                # inverted dropout keeps the mean: within 4 standard errors
                self.assertLess(abs(float(mean_out) - float(mean_in)),
                                4 * float(sd_out) / np.sqrt(bits.size))
                self.assertAlmostEqual(float(sd_out), 1 / np.sqrt(float(keep)), delta=0.05)
        self.assertEqual(float(rows[1][5]), 0.0)         # keep 1: no zeros
        # a keep that was not swept: the nearest one stored is used and named
        # (and with N(1, 1) activations, so that keeping the mean is not trivial)
        p = tool("plot_dropout_hist.py", self.h5, "--keep", "0.6", "--layer", "1",
                 "--loc", "1", "-o", self.out("nearest.png"))
        self.assertValidPNG(self.out("nearest.png"))
        r = printed_table(p.stdout)[1]
        self.assertEqual((r[0], r[1], r[3]), ("0.6", "0.5", "1"))
        n, mean_in, mean_out, sd_out = int(r[4]), float(r[7]), float(r[8]), float(r[9])
        self.assertLess(abs(mean_in - 1), 4 / np.sqrt(n))
        self.assertLess(abs(mean_out - 1), 4 * sd_out / np.sqrt(n))
        self.assertAlmostEqual(sd_out, np.sqrt(2 / 0.5 - 1), delta=0.05)

    def test_error_paths_exit_2_naming_the_file(self):
        text = self.out("notes.txt")
        with open(text, "w") as f:
            f.write("not HDF5\n")
        other = self.out("other.h5")
        with h5py.File(other, "w") as f:
            f.attrs["format"] = "something-else"
        missing = self.out("nope.h5")
        for script in ("plot_curves.py", "plot_gap_vs_keep.py", "plot_dropout_hist.py"):
            for path, what in ((missing, "no such file"), (text, "not an HDF5 file"),
                               (other, "not a regsweep results file")):
                p = tool(script, path, "-o", self.out("err"), check=2)
                self.assertIn(path, p.stderr)
                self.assertIn(what, p.stderr)
            p = tool(script, "--help")
            self.assertIn("usage:", p.stdout)
            self.assertIn("results", p.stdout)
        self.assertFalse(os.path.exists(self.out("err")))
        spec = self.out("no_masks.yaml")
        with open(spec, "w") as f:
            f.write(NO_MASKS)
        plain = self.out("no_masks.h5")
        run([REGSWEEP, "run", spec, "-o", plain], check=0)
        p = tool("plot_dropout_hist.py", plain, "-o", self.out("err"), check=2)
        self.assertIn("no dropout masks recorded", p.stderr)

    def check_against_report(self, path, stdout, metrics):
        """The table plot_gap_vs_keep.py printed equals /analysis/configs."""
        with h5py.File(path, "r") as f:
            configs = table(f["analysis/configs"]).set_index("config")
        rows = printed_table(stdout)[1:]
        self.assertEqual(len(rows), len(configs) * len(metrics))
        for r in rows:
            label, metric = " ".join(r[:3]), r[3]
            self.assertIn(metric, metrics)
            self.assertEqual(int(r[4]), configs.loc[label, "n_done"])
            for value, col in zip(r[5:], ("mean", "ci_lo", "ci_hi")):
                want = configs.loc[label, f"{metric}_{col}"]
                self.assertAlmostEqual(float(value), want, delta=1e-5 * abs(want) + 1e-12,
                                       msg=f"{label} {metric}_{col}")

    def test_per_layer_keeps_and_a_classifier(self):
        """keep [0.8, 0.5] per layer: a categorical x axis and a config
        label 'keep=0.8,0.5'; accuracy panels for softmax models."""
        if not os.path.isdir(FASHION):
            self.skipTest(f"{FASHION} missing (Debian package dataset-fashion-mnist)")
        spec, out = self.out("fm_tiny.yaml"), self.out("fm_tiny.h5")
        with open(spec, "w") as f:
            f.write(CLASSIFIER)
        run([REGSWEEP, "run", spec, "-o", out], check=0)
        run([REGSWEEP, "report", out], check=0)
        p = tool("plot_gap_vs_keep.py", out, "-o", self.out("figs"))
        self.assertValidPNG(self.out("figs/fm_tiny_gap_vs_keep.png"))
        self.check_against_report(out, p.stdout, ("gap", "gap_acc"))
        self.assertIn("keep=0.8,0.5 l2=0.001 l1=0", p.stdout)
        p = tool("plot_curves.py", out, "--config", "keep=0.8,0.5 l2=0", "-o", self.out("figs"))
        self.assertValidPNG(self.out("figs/fm_tiny_curves.png"))
        self.assertIn("keep=0.8,0.5 l2=0 l1=0: 3 seeds", p.stdout)
        p = tool("plot_dropout_hist.py", out, "-o", self.out("figs"))
        self.assertValidPNG(self.out("figs/fm_tiny_dropout_hist.png"))
        rows = printed_table(p.stdout)[1:]
        self.assertEqual([(r[1], r[3]) for r in rows], [("1", "0"), ("0.8", "0"), ("0.5", "1")])

    # ---- docs/ANALYSIS.md -------------------------------------------------

    def blocks(self, language):
        with open(DOC, encoding="utf-8") as f:
            text = f.read()
        return [(text[:m.start()].count("\n") + 2, m.group(1))
                for m in re.finditer(r"^```" + language + r"\n(.*?)^```", text, re.M | re.S)]

    def test_docs_python_blocks_run_as_written(self):
        """Every ```python block, in order, in one session, from the folder
        that holds results/ch311_sin.h5."""
        blocks = self.blocks("python")
        self.assertGreaterEqual(len(blocks), 5)
        script = "".join(f"# ---- docs/ANALYSIS.md line {line}\n{code}\n"
                         for line, code in blocks)
        path = self.out("analysis_md.py")
        with open(path, "w") as f:
            f.write(script)
        p = run([sys.executable, path], cwd=self.dir, check=0)
        self.assertIn("regenerated mask equals the stored one", p.stdout)
        self.assertIn("share kept", p.stdout)
        self.assertIn("gap_mean", p.stdout)

    def test_docs_r_block_runs_where_r_is_installed(self):
        blocks = self.blocks("r")
        self.assertEqual(len(blocks), 1)
        rscript = shutil.which("Rscript")
        if not rscript or run([rscript, "-e", "library(hdf5r)"]).returncode:
            self.skipTest("Rscript with hdf5r is not installed (apt-get install r-cran-hdf5r)")
        path = self.out("analysis_md.R")
        with open(path, "w") as f:
            f.write(blocks[0][1])
        p = run([rscript, path], cwd=self.dir, check=0)
        self.assertIn("share kept", p.stdout)
        self.assertIn("gap_mean", p.stdout)
        # R's mask share equals numpy's for the same job and record
        m = re.search(r"share kept (\S+) keep_prob (\S+)", p.stdout)
        with h5py.File(self.h5, "r") as f:
            job = self.jobs[(self.jobs.keep_prob_1 < 1) & (self.jobs.status == "done")].iloc[0]
            masks = f["runs"][job.id]["masks"]
            bits = np.unpackbits(masks["layer0"][0, :masks["n_rows"][0]], axis=1,
                                 bitorder="little")[:, :masks["layer0"].attrs["n_units"]]
        self.assertAlmostEqual(float(m.group(1)), bits.mean(), places=5)
        first = re.search(r"first row: ([01]+)", p.stdout).group(1)
        self.assertEqual(first, "".join(map(str, bits[0])))
        self.assertEqual(float(m.group(2)), job.keep_prob_1)


if __name__ == "__main__":
    unittest.main(verbosity=2)
