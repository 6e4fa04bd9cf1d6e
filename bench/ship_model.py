"""Ship a finished `gre train` run as a registered model with a model card.

    python bench/ship_model.py --run-dir runs/denoise --name gre-denoise-masknet-psm \
        --tasks denoise --default-for denoise --notes "First shipped denoiser."
    python bench/ship_model.py --chain masknet-psm-universal-v2 masknet-map-bwe --name universal-then-bwe \
        --tasks universal --notes "The universal model, then the bandwidth extender."
    python bench/ship_model.py --router router.safetensors --name universal-router --default-for universal

Copies the chosen weights to models/weights/<name>.safetensors (sha256 recorded), scores them on
the ../shared/eval sets of the tasks (and on held-out corpus pairs with --heldout-clean), writes
models/weights/<name>.md and registers the model in models/weights/shipped.json + shipped.py.
With --chain (instead of --run-dir), registered models run one after another are scored and
registered as one model (no weights of its own; the manifest names its models). With --router, a router file
(`python -m models.train.degradation`) is registered: its classifier is its weights, its models are named in it.
Progress on stderr; the paths written on stdout. Exit 0 on success, 2 on an unusable request.
"""
from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from models.registry import TASKS  # noqa: E402
from models.shipping import (DEFAULT_EVAL_ROOT, ChainShipRequest, RouterShipRequest, ShipRequest, ship_chain,  # noqa: E402
                             ship_model, ship_router)
from models.shipping.heldout import HeldoutSpec  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--run-dir", type=Path, help="A `gre train --run-dir` folder.")
    source.add_argument("--chain", nargs="+", metavar="MODEL",
                        help="Registered models to run one after another, shipped as one model (needs --tasks).")
    source.add_argument("--router", type=Path, metavar="FILE",
                        help="A router file (`python -m models.train.degradation`), shipped for --tasks universal.")
    p.add_argument("--weights", choices=("best", "last", "averaged"), default=None,
                   help="best.safetensors (best validation), model.safetensors (last checkpoint) or "
                   "averaged.safetensors (`gre average-weights ... -o RUN/averaged.safetensors`) [default: best; "
                   "not with --chain].")
    p.add_argument("--name", required=True, help="Registry name, e.g. gre-denoise-masknet-psm.")
    p.add_argument("--tasks", nargs="+", choices=TASKS, default=None, metavar="TASK",
                   help=f"Tasks it serves ({', '.join(TASKS)}) [default: the run's task].")
    p.add_argument("--default-for", nargs="+", choices=TASKS, default=(), metavar="TASK",
                   help="Tasks it becomes the default model of.")
    p.add_argument("--eval-root", type=Path, default=DEFAULT_EVAL_ROOT, help="The ../shared/eval folder.")
    p.add_argument("--heldout-clean", nargs="+", default=None, help="Held-out clean speech folders (extra table).")
    p.add_argument("--heldout-noise", nargs="+", default=(),
                   help="Held-out noise folders (denoise, universal, and dereverb runs trained with --reverb-noise).")
    p.add_argument("--heldout-rir", nargs="+", default=(),
                   help="Held-out impulse-response folders (dereverb, universal).")
    p.add_argument("--heldout-files", type=int, default=24, help="Held-out pairs per task.")
    p.add_argument("--heldout-seconds", type=float, default=4.0, help="Seconds kept of each held-out file.")
    p.add_argument("--notes", default="", help="Free text for the card.")
    p.add_argument("--threads", type=int, default=1, help="Torch threads while enhancing (1 on a busy machine).")
    p.add_argument("--jobs", type=int, default=1, help="Evaluation worker processes.")
    p.add_argument("--keep-outputs", type=Path, default=None,
                   help="Keep the enhanced files here (default: a temp dir).")
    p.add_argument("--weights-dir", type=Path, default=None,
                   help="Write weights, card and manifest here instead of models/weights (for trial runs).")
    args = p.parse_args(argv)
    if (args.chain or args.router) and args.weights:
        p.error("--weights picks a run's weights file; a --chain or --router has none of its own to pick")
    if args.chain and not args.tasks:
        p.error("--chain needs --tasks (there is no run to take the task from)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    heldout = None
    if args.heldout_clean:
        heldout = HeldoutSpec(tuple(args.heldout_clean), tuple(args.heldout_noise), tuple(args.heldout_rir),
                              files=args.heldout_files, max_seconds=args.heldout_seconds)
    words = ["python", "bench/ship_model.py", *(sys.argv[1:] if argv is None else argv)]
    common = dict(name=args.name, tasks=tuple(args.tasks or ()), default_for=tuple(args.default_for),
                  eval_root=args.eval_root, heldout=heldout, notes=args.notes, threads=args.threads, jobs=args.jobs,
                  keep_outputs=args.keep_outputs, command=shlex.join(words))
    say = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    try:
        if args.chain:
            result = ship_chain(ChainShipRequest(stages=tuple(args.chain), **common), args.weights_dir, progress=say)
        elif args.router:
            result = ship_router(RouterShipRequest(router_file=args.router, **common), args.weights_dir, progress=say)
        else:
            request = ShipRequest(run_dir=args.run_dir, weights=args.weights or "best", **common)
            result = ship_model(request, args.weights_dir, progress=say)
    except ValueError as problem:
        print(f"Error: {problem}", file=sys.stderr)
        return 2
    if result.weights_path is not None:
        print(result.weights_path)
    print(result.card_path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
