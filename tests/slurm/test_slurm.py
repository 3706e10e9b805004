#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""A sweep through a real Slurm: tools/slurm/submit.sh submits a 3-task job
array (one shard each, taken from the array's environment) and the merge as
a job that depends on it; the merged file must equal a single-process run
bit for bit (h5diff, /provenance and /analysis excluded, as in
tests/integration/test_sweep.py).  A failed task, then the same submission
again; and, when regsweep is built with MPI, tools/slurm/mpi.sbatch.

usage: test_slurm.py REGSWEEP SOURCE_ROOT   (or $REGSWEEP, $RS_SOURCE_ROOT)

The Slurm is a private one on localhost (munged, slurmctld, slurmd) that
tests/slurm/slurm_up.sh starts in a temporary directory and slurm_down.sh
stops, whatever happens.  Exit 77 (meson: skipped), with slurm_up.sh's
reason, when it cannot start here (not root, no slurm-wlm/munge, no
privileges); RS_SLURM_REQUIRED=1 makes that a failure.
"""
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import unittest

REGSWEEP = os.path.abspath(sys.argv[1] if len(sys.argv) > 1
                           else os.environ.get("REGSWEEP", "build/regsweep"))
ROOT = os.path.abspath(sys.argv[2] if len(sys.argv) > 2
                       else os.environ.get("RS_SOURCE_ROOT", "."))
SLURM_DIR = os.path.join(ROOT, "tests", "slurm")
SUBMIT = os.path.join(ROOT, "tools", "slurm", "submit.sh")
WAIT_S = 300  # for both jobs; the sweep itself takes well under a second

# 12 jobs of ~10 ms: 3 seeds x 2 keep x 2 l2 (test_sweep.py's SMALL, cut)
SPEC = """\
name: slurm
dataset: {kind: sin, n_train: 64, n_test: 50, noise_sd: 0.5, seed: 3}
model: {layers: [1, 16, 12, 1], activation: relu}
train: {lr: 0.02, epochs: 12, batch_size: 16, shuffle: true}
record: {masks: all}
axes:
  seed: {from: 0, to: 2}
  keep_prob: [1.0, [0.9, 0.5]]
  l2: [0, 0.001]
"""

TMP = None    # tempfile.TemporaryDirectory: the state dir, spec, outputs, logs
STATE = None  # the Slurm state directory given to slurm_up.sh


def h5diff(a, b):
    # as tests/integration/test_sweep.py: /provenance and /analysis are
    # derived and volatile
    return subprocess.run(["h5diff", "--exclude-path", "/provenance",
                           "--exclude-path", "/analysis", a, b],
                          capture_output=True, text=True)


def scontrol_jobs(job_id):
    """JobState and ExitCode of a job, or of every task of an array job,
    as a list of dicts (scontrol keeps finished jobs for MinJobAge)."""
    p = subprocess.run(["scontrol", "-o", "show", "job", str(job_id)],
                       capture_output=True, text=True)
    return [dict(re.findall(r"(\w+)=(\S*)", line)) for line in p.stdout.splitlines()]


def wait_for(job_ids, timeout_s):
    """Waits until no job of job_ids is pending, running or completing."""
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        p = subprocess.run(["squeue", "-h", "-j", ",".join(map(str, job_ids)),
                            "-o", "%i %T %r"], capture_output=True, text=True)
        if p.returncode == 0 and not p.stdout.strip():
            return True
        time.sleep(1)
    return False


def built_with_mpi():
    p = subprocess.run(["ldd", REGSWEEP], capture_output=True, text=True)
    return "libmpi" in p.stdout


def job_logs(directory, job_id=""):
    """The jobs' logs in directory (those of job job_id if given), as one
    text: array.sbatch's are regsweep-ARRAYID_TASK.out, merge.sbatch's
    regsweep-merge-JOBID.out, mpi.sbatch's regsweep-mpi-JOBID.out."""
    pattern = (rf"regsweep-(merge-|mpi-)?{re.escape(job_id)}(_\d+)?\.out" if job_id
               else r"regsweep-.*\.out")
    out = []
    for name in sorted(os.listdir(directory)):
        if re.fullmatch(pattern, name):
            with open(os.path.join(directory, name)) as f:
                out.append(f"--- {name}\n{f.read()}")
    return "\n".join(out)


class Slurm(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(dir=TMP.name, prefix="sweep-")
        self.spec = os.path.join(self.dir, "spec.yaml")
        with open(self.spec, "w") as f:
            f.write(SPEC)

    def path(self, name):
        return os.path.join(self.dir, name)

    def run_single(self):
        single = self.path("single.h5")
        p = subprocess.run([REGSWEEP, "run", self.spec, "-o", single, "-j", "1"],
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        return single

    def submit(self, out, n):
        """submit.sh SPEC OUT N; waits for both jobs.  Returns the array's
        tasks and the merge job (scontrol's fields) and the jobs' logs."""
        # --cpus-per-task=1: array.sbatch asks for 4, more than a small CI
        # machine's node has (sbatch would refuse the job)
        t0 = time.monotonic()
        p = subprocess.run([SUBMIT, self.spec, out, str(n), "--cpus-per-task=1"],
                           capture_output=True, text=True, cwd=self.dir)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        array_id, merge_id = p.stdout.split()
        self.assertTrue(wait_for([array_id, merge_id], WAIT_S),
                        f"jobs not done after {WAIT_S} s\n" + job_logs(self.dir))
        print(f"test_slurm: array {array_id} and merge {merge_id} done in "
              f"{time.monotonic() - t0:.1f} s", file=sys.stderr)
        logs = job_logs(self.dir, array_id) + job_logs(self.dir, merge_id)
        tasks = {t.get("ArrayTaskId"): t for t in scontrol_jobs(array_id)}
        self.assertEqual(sorted(tasks), [str(i) for i in range(n)], logs)
        merge = scontrol_jobs(merge_id)
        self.assertEqual(len(merge), 1, logs)
        return tasks, merge[0], logs

    def assertJobOk(self, job, logs):
        self.assertEqual((job.get("JobState"), job.get("ExitCode")), ("COMPLETED", "0:0"),
                         f"job {job.get('JobId')}\n{logs}")

    def test_array_and_merge_equal_one_process(self):
        single = self.run_single()
        merged = self.path("merged.h5")
        tasks, merge, logs = self.submit(merged, 3)
        for t in list(tasks.values()) + [merge]:
            self.assertJobOk(t, logs)
        # each task took its shard from the array and wrote its part
        for i in (1, 2, 3):
            self.assertRegex(logs, rf"shard {i} of 3 from SLURM_ARRAY_TASK_ID={i - 1} ")
            self.assertTrue(os.path.isfile(self.path(f"merged.shard-{i}-of-3.h5")), logs)
        d = h5diff(single, merged)
        self.assertEqual(d.returncode, 0, d.stdout + d.stderr)

    @unittest.skipUnless(built_with_mpi(), "regsweep is built without MPI")
    def test_mpi_sbatch_equals_one_process(self):
        """tools/slurm/mpi.sbatch: 2 ranks of 1 thread on the one node, started
        by srun (PMIx) and by OpenMPI's mpirun."""
        single = self.run_single()
        mpi_sbatch = os.path.join(ROOT, "tools", "slurm", "mpi.sbatch")
        for launcher in ("srun", "mpirun"):
            with self.subTest(launcher=launcher):
                out = self.path(f"{launcher}.h5")
                # mpirun refuses root unless told twice
                env = dict(os.environ, LAUNCHER=launcher, OMPI_ALLOW_RUN_AS_ROOT="1",
                           OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
                p = subprocess.run(["sbatch", "--parsable", "--wait", "--nodes=1",
                                    "--ntasks-per-node=2", "--cpus-per-task=1",
                                    mpi_sbatch, self.spec, out],
                                   capture_output=True, text=True, cwd=self.dir,
                                   env=env, timeout=WAIT_S)
                job_id = p.stdout.strip().split(";")[0]
                logs = job_logs(self.dir, job_id)
                self.assertEqual(p.returncode, 0, p.stderr + logs)
                self.assertJobOk(scontrol_jobs(job_id)[0], logs)
                d = h5diff(single, out)
                self.assertEqual(d.returncode, 0, d.stdout + d.stderr)

    def test_failed_task_then_submit_again(self):
        """A task that fails keeps the merge from running (it is cancelled,
        not left pending); submitting the same array again, as the scripts
        advise, resumes the finished parts and completes the sweep."""
        single = self.run_single()
        merged = self.path("merged.h5")
        # a directory where shard 2's part goes: task 1 cannot write it
        blocker = self.path("merged.shard-2-of-3.h5")
        os.mkdir(blocker)
        tasks, merge, logs = self.submit(merged, 3)
        self.assertJobOk(tasks["0"], logs)
        self.assertJobOk(tasks["2"], logs)
        self.assertEqual(tasks["1"].get("JobState"), "FAILED", logs)
        self.assertIn(blocker + ":", logs)  # regsweep named what stopped it
        self.assertEqual((merge.get("JobState"), merge.get("Reason")),
                         ("CANCELLED", "DependencyNeverSatisfied"), logs)
        self.assertFalse(os.path.exists(merged))

        os.rmdir(blocker)
        tasks, merge, logs = self.submit(merged, 3)
        for t in list(tasks.values()) + [merge]:
            self.assertJobOk(t, logs)
        # shards 1 and 3 were resumed with all their jobs done, shard 2 ran
        done = [int(x) for x in re.findall(r"(\d+) already done", logs)]
        self.assertEqual(sorted(d > 0 for d in done), [False, True, True], logs)
        d = h5diff(single, merged)
        self.assertEqual(d.returncode, 0, d.stdout + d.stderr)


def teardown():
    if STATE is not None:
        subprocess.run([os.path.join(SLURM_DIR, "slurm_down.sh"), STATE])
    if TMP is not None:
        TMP.cleanup()


def main():
    global TMP, STATE
    # meson stops a test that runs too long with SIGTERM: tear down then too.
    # KeyboardInterrupt is the one exception unittest lets through (it
    # records any other, SystemExit included, and runs the next test).
    def stop(signum, _frame):
        raise KeyboardInterrupt(signum)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    # run inside a job of another Slurm (a CI runner on a cluster), its
    # variables would choose a shard for the single-process run and steer
    # sbatch (SBATCH_PARTITION...) away from the private Slurm
    for k in [k for k in os.environ if k.startswith(("SLURM_", "SBATCH_", "SRUN_", "SALLOC_"))]:
        del os.environ[k]
    TMP = tempfile.TemporaryDirectory(prefix="rs-slurm-")
    try:
        STATE = os.path.join(TMP.name, "slurm")
        t0 = time.monotonic()
        p = subprocess.run([os.path.join(SLURM_DIR, "slurm_up.sh"), STATE],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if p.returncode == 77:
            print(f"test_slurm: skipped:\n{p.stdout}", file=sys.stderr)
            return 77
        if p.returncode != 0:
            print(f"test_slurm: slurm_up.sh failed ({p.returncode}):\n{p.stdout}",
                  file=sys.stderr)
            return 1
        print(f"{p.stdout.strip()} ({time.monotonic() - t0:.1f} s)", file=sys.stderr)
        os.environ["SLURM_CONF"] = os.path.join(STATE, "slurm.conf")
        os.environ["REGSWEEP"] = REGSWEEP  # the jobs inherit it (array.sbatch)
        r = unittest.main(argv=[sys.argv[0]], exit=False, verbosity=2)
        return 0 if r.result.wasSuccessful() else 1
    except KeyboardInterrupt as e:
        signum = e.args[0] if e.args else signal.SIGINT
        print(f"test_slurm: stopped by signal {signum}; stopping Slurm", file=sys.stderr)
        return 128 + signum
    finally:
        teardown()


if __name__ == "__main__":
    sys.exit(main())
