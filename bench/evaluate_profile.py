"""Where `gre evaluate`'s CPU time goes, per metric family and overhead, A/B against a git revision.

    python bench/evaluate_profile.py [--files 10] [--seconds 10] [--repeats 3] [--old-rev HEAD]

Synthesises ``--files`` pairs of ``--seconds`` s (bench/evaluate_speed.py's signals), then runs one
measuring child interpreter per side: ``old`` imports ``models`` from ``git archive OLD_REV``,
``new`` from this working tree. Each child, set up as an evaluate worker is (one torch/BLAS thread,
and on the new side the worker's memory settings), measures in CPU time (user + system):

- every metric family called directly on the decoded pairs, in ms per file, plus page faults;
- ``evaluate(..., jobs=1)`` and ``evaluate(..., jobs=2)`` (workers included) with all 13 metrics;

each as the median of ``--repeats`` passes over the files, and records every per-file value of the
jobs=1 run, so the two sides can be compared number for number. Writes
bench/results/evaluate_profile.json and .md (``--out-dir`` to write elsewhere).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
ALL_BUT_DNSMOS = "pesq_wb,pesq_nb,stoi,estoi,si_sdr,snr,csig,cbak,covl,pd,wopd,lsd,lsd_hb"


def _cpu_s(children: bool = False) -> float:
    if not children:  # ns resolution; os.times counts 10 ms ticks
        return time.process_time()
    t = os.times()
    return t.user + t.system + ((t.children_user + t.children_system) if children else 0.0)


def _median_ms_per_file(fn, files: int, repeats: int, children: bool = False) -> tuple[float, list[float]]:
    runs = []
    for _ in range(repeats):
        start = _cpu_s(children)
        fn()
        runs.append(1000 * (_cpu_s(children) - start) / files)
    return statistics.median(runs), runs


def measure(root: Path, repeats: int) -> dict:
    """Child side: the measurements of whichever ``models`` this interpreter imports."""
    import models
    from models import evaluate as ev
    from models.metrics.composite import composite_scores
    from models.metrics.intelligibility import stoi_scores
    from models.metrics.pesq_metrics import pesq_score
    from models.metrics.phase import phase_distances
    from models.metrics.sdr import si_sdr, snr
    from models.metrics.spectral import lsd_scores
    from models.metrics.suite import resample64

    ev._single_threaded()
    if hasattr(ev, "_keep_freed_memory"):  # what a worker of this version does
        ev._keep_freed_memory()
    refs = sorted((root / "ref").glob("*.wav"))
    pairs = [(ev.load_audio(p), ev.load_audio(root / "est" / p.name)) for p in refs]
    pesq_wb = [pesq_score(r, e, 16_000, "wb") for r, e in pairs]
    stages = {
        "decode (2 files)": lambda r, e, i: (ev.load_audio(refs[i]), ev.load_audio(root / "est" / refs[i].name)),
        "pesq_wb": lambda r, e, i: pesq_score(r, e, 16_000, "wb"),
        "pesq_nb (incl. 8 kHz soxr)": lambda r, e, i: pesq_score(resample64(r, 16_000, 8_000),
                                                                 resample64(e, 16_000, 8_000), 8_000, "nb"),
        "stoi + estoi": lambda r, e, i: stoi_scores(r, e, 16_000),
        "si_sdr + snr": lambda r, e, i: (si_sdr(r, e), snr(r, e)),
        "csig/cbak/covl (pesq_wb reused)": lambda r, e, i: composite_scores(r, e, 16_000, pesq_wb[i]),
        "pd + wopd": lambda r, e, i: phase_distances(r, e),
        "lsd + lsd_hb": lambda r, e, i: lsd_scores(r, e),
    }
    out: dict = {"models": str(Path(models.__file__).parent), "stages": {}}
    for name, fn in stages.items():
        fn(*pairs[0], 0)  # warm caches (filters, dither pool) as a worker's first file does

        def run(fn=fn):
            for i, (r, e) in enumerate(pairs):
                fn(r, e, i)

        faults0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        median, runs = _median_ms_per_file(run, len(pairs), repeats)
        faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults0) / (repeats * len(pairs))
        out["stages"][name] = {"ms_per_file": median, "runs": runs, "page_faults_per_file": faults}

    def evaluate(jobs: int):
        return ev.evaluate(root / "ref", [root / "est"], metrics=ALL_BUT_DNSMOS, jobs=jobs)

    result = evaluate(1)  # warm-up, and the values compared between the sides
    out["values"] = [{"file": f.file, **f.values} for f in result.files]
    for jobs in (1, 2):
        start = time.perf_counter()
        median, runs = _median_ms_per_file(lambda: evaluate(jobs), len(pairs), repeats, children=True)
        out[f"evaluate_jobs{jobs}"] = {"ms_per_file": median, "runs": runs,
                                       "wall_s": (time.perf_counter() - start) / repeats}
    return out


def _child(models_root: Path | None, root: Path, repeats: int) -> dict:
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    if models_root is not None:  # shadows the editable install's `models`
        env["PYTHONPATH"] = str(models_root)
    cmd = [sys.executable, str(Path(__file__).resolve()), "--measure", str(root), "--repeats", str(repeats)]
    out = subprocess.run(cmd, check=True, env=env, capture_output=True, text=True, cwd=tempfile.gettempdir()).stdout
    return json.loads(out.strip().splitlines()[-1])


def compare(old: list[dict], new: list[dict]) -> dict:
    """Per metric: how many per-file values are bit-identical, and the largest absolute difference."""
    report = {}
    for metric in ALL_BUT_DNSMOS.split(","):
        same, worst = 0, 0.0
        for a, b in zip(old, new):
            x, y = a.get(metric), b.get(metric)
            if x == y:
                same += 1
            elif x is not None and y is not None:
                worst = max(worst, abs(x - y))
            else:
                worst = float("inf")
        report[metric] = {"identical": same, "of": len(old), "max_abs_diff": worst}
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--old-rev", default="HEAD", help="git revision of the 'old' side")
    parser.add_argument("--out-dir", type=Path, default=RESULTS)
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.repeats)))
        return

    sys.path.insert(0, str(REPO / "bench"))
    from evaluate_speed import synthesise

    with tempfile.TemporaryDirectory(prefix="gre_eval_profile_") as tmp:
        tmp = Path(tmp)
        synthesise(tmp / "data", args.files, args.seconds)
        old_root = tmp / "old"
        old_root.mkdir()
        archive = subprocess.run(["git", "-C", str(REPO), "archive", args.old_rev, "models"], check=True,
                                 capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(old_root)], input=archive, check=True)
        sides = {}
        for side, models_root in (("old", old_root), ("new", None)):
            print(f"measuring {side} ...", file=sys.stderr, flush=True)
            sides[side] = _child(models_root, tmp / "data", args.repeats)
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", args.old_rev], check=True,
                            capture_output=True, text=True).stdout.strip()
    report = {
        "command": "python bench/evaluate_profile.py " + " ".join(sys.argv[1:]),
        "files": args.files, "seconds_per_file": args.seconds, "repeats": args.repeats,
        "old_rev": f"{args.old_rev} ({commit})", "load_1min": os.getloadavg()[0],
        "old": {k: v for k, v in sides["old"].items() if k != "values"},
        "new": {k: v for k, v in sides["new"].items() if k != "values"},
        "values_old_vs_new": compare(sides["old"]["values"], sides["new"]["values"]),
    }
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / "evaluate_profile.json").write_text(json.dumps(report, indent=2) + "\n")
    table = render(report)
    write_markdown(args.out_dir / "evaluate_profile.md", table)
    print(table)


def render(report: dict) -> str:
    old, new = report["old"], report["new"]
    lines = [f"`{report['command'].strip()}` — {report['files']} pairs x {report['seconds_per_file']:g} s, "
             f"CPU time (user + system) per file, median of {report['repeats']} passes in one child process "
             f"per side; old = `{report['old_rev']}`, new = working tree; 1-min load {report['load_1min']:.1f} "
             "(2 cores shared with training jobs).", "",
             "| stage | old ms/file | new ms/file | old page faults/file | new page faults/file |",
             "| --- | --- | --- | --- | --- |"]
    for name, o in old["stages"].items():
        n = new["stages"][name]
        lines.append(f"| {name} | {o['ms_per_file']:.1f} | {n['ms_per_file']:.1f} | "
                     f"{o['page_faults_per_file']:.0f} | {n['page_faults_per_file']:.0f} |")
    stage_sum = {side: sum(s["ms_per_file"] for s in report[side]["stages"].values()) for side in ("old", "new")}
    lines.append(f"| sum of stages | {stage_sum['old']:.1f} | {stage_sum['new']:.1f} | | |")
    for jobs in (1, 2):
        key = f"evaluate_jobs{jobs}"
        lines.append(f"| evaluate all 13 metrics, jobs={jobs}{' (workers included)' if jobs > 1 else ''} | "
                     f"{old[key]['ms_per_file']:.1f} | {new[key]['ms_per_file']:.1f} | | |")
    lines += ["", "Per-file values of the jobs=1 run, old vs new:", "",
              "| metric | bit-identical files | max abs difference |", "| --- | --- | --- |"]
    for metric, c in report["values_old_vs_new"].items():
        lines.append(f"| {metric} | {c['identical']}/{c['of']} | {c['max_abs_diff']:.3g} |")
    return "\n".join(lines) + "\n"


BEGIN, END = "<!-- begin generated by bench/evaluate_profile.py -->", "<!-- end generated -->"


def write_markdown(path: Path, table: str) -> None:
    """Replace the generated block of ``path`` (the rest is hand-written analysis), or create the file."""
    block = f"{BEGIN}\n{table}{END}"
    text = path.read_text() if path.exists() else f"# gre evaluate: CPU profile\n\n{BEGIN}\n{END}\n"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + block + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(text)


if __name__ == "__main__":
    main()
