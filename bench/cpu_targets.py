"""Issue 7's CPU targets: whole-process `gre enhance` of one 120 s file, 2 threads, real time factor.

Targets (issue 7): `standard` bf16 RTF <= 0.2, `small` bf16 <= 0.12, `standard` fp32 <= 0.5, with
bf16 PESQ within 0.02 of fp32 (that check: bench/model_speed.py, authors' weights on VoiceBank).
Each setting is one fresh `gre enhance` process (model load, decode, chunking, model, overlap-add,
encode: everything a user waits for), timed wall-clock; RTF = wall / 120 s; the median over
``--repeats`` rounds, the settings alternating inside each round so that load hits them alike.
``--streams 1`` (one model call using both threads) against the default ``--streams 2`` (two
concurrent one-thread calls, models/row_parallel.py) shows that step's effect.

Models: ``small-authors`` (the authors' phase-retrieval weights, --task phase) and
``standard-random`` (random `standard` weights: same cost as trained ones); see bench/enhance_speed.py.

    python bench/cpu_targets.py --repeats 3
    python bench/cpu_targets.py --models small-authors --precisions bf16 --streams 2 --repeats 1

Writes bench/results/cpu_targets.json and .md.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from enhance_speed import RESULTS, make_data, measure, model_args

TARGETS = {("standard-random", "bf16"): 0.2, ("small-authors", "bf16"): 0.12, ("standard-random", "fp32"): 0.5}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default="small-authors,standard-random")
    p.add_argument("--precisions", default="fp32,bf16")
    p.add_argument("--streams", default="1,2", help="comma list of --streams values")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seconds", type=float, default=120.0)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "gre-enhance-bench")
    args = p.parse_args()
    gre = str(Path(sys.executable).parent / "gre")
    minutes = args.seconds / 60
    folder, audio_s = make_data(args.data, 1, minutes)["long"]
    settings = [(m, pr, int(s)) for m in args.models.split(",") for pr in args.precisions.split(",")
                for s in args.streams.split(",")]
    times: dict[tuple, list[float]] = {s: [] for s in settings}
    rss: dict[tuple, float] = {}
    loads = []
    with tempfile.TemporaryDirectory() as tmp:
        extra = {m: model_args(m, Path(tmp)) for m in {s[0] for s in settings}}
        for r in range(args.repeats):
            order = settings if r % 2 == 0 else settings[::-1]
            for model, precision, streams in order:
                cmd = [gre, "enhance", str(folder), str(Path(tmp) / "out"), *extra[model], "--precision", precision,
                       "--threads", str(args.threads), "--streams", str(streams), "--overwrite", "--quiet"]
                res = measure(cmd)
                if res["exit_code"] != 0:
                    sys.exit(f"{' '.join(cmd)} failed: {res['stderr_tail']}")
                times[(model, precision, streams)].append(res["wall_s"])
                rss[(model, precision, streams)] = max(rss.get((model, precision, streams), 0), res["peak_rss_main_mb"])
                loads.append(res["load_at_start"])
                print(f"round {r + 1}: {model} {precision} streams {streams}: {res['wall_s']:.1f} s "
                      f"(load {res['load_at_start']:.1f})", file=sys.stderr, flush=True)
    command = "python bench/cpu_targets.py " + " ".join(sys.argv[1:])
    rows = []
    for s in settings:
        wall = statistics.median(times[s])
        rows.append({"model": s[0], "precision": s[1], "streams": s[2], "threads": args.threads,
                     "audio_s": audio_s, "walls_s": times[s], "median_wall_s": wall, "rtf": wall / audio_s,
                     "peak_rss_mb": rss[s], "target_rtf": TARGETS.get((s[0], s[1]))})
    RESULTS.mkdir(parents=True, exist_ok=True)
    result = {"command": command, "date": time.strftime("%Y-%m-%d %H:%M"), "cpus": os.cpu_count(),
              "load_min": min(loads), "load_max": max(loads), "rows": rows}
    (RESULTS / "cpu_targets.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = ["# CPU targets: `gre enhance` of one 120 s file, whole process (`bench/cpu_targets.py`)", "",
             f"Command: `{command}`; {result['date']}; {os.cpu_count()} cores; 1-minute load average at the "
             f"start of the runs {result['load_min']:.1f}-{result['load_max']:.1f}. Median of {args.repeats} "
             "fresh processes per row, settings alternating; RTF = wall / audio (lower is faster).", "",
             "| model | precision | threads | streams | median wall s | RTF | target RTF | met | peak RSS MB | runs s |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        target = r["target_rtf"]
        met = "" if target is None or r["streams"] != 2 else ("yes" if r["rtf"] <= target else "no")
        lines.append(f"| {r['model']} | {r['precision']} | {r['threads']} | {r['streams']} | {r['median_wall_s']:.1f} | "
                     f"{r['rtf']:.3f} | {target if target is not None else '-'} | {met} | {r['peak_rss_mb']:.0f} | "
                     + ", ".join(f"{w:.1f}" for w in r["walls_s"]) + " |")
    (RESULTS / "cpu_targets.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
