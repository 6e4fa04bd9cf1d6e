"""`gre average-weights`: the element-wise mean of several checkpoints of one run (or of a model and its
fine-tunes)."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer


def average_weights_command(
    inputs: List[Path] = typer.Argument(..., metavar="CHECKPOINT...",
                                        help="Two or more gre .safetensors checkpoints of one run, or a folder of "
                                        "them (earlier averages in it are left out), e.g. the weights/ folder "
                                        "of `gre train --keep-weights`; or a model and its fine-tunes "
                                        "(`gre train --init-weights`), which interpolates between them."),
    out: Path = typer.Option(..., "--out", "-o", help="The averaged checkpoint to write (.safetensors)."),
    last: int = typer.Option(0, "--last", metavar="N", help="Average only the N checkpoints of the latest steps "
                             "(0: all given)."),
    from_step: Optional[int] = typer.Option(None, "--from-step", metavar="STEP",
                                            help="Average only the checkpoints of training step STEP and later "
                                            "(a late window of a run; with --last, the N latest of those)."),
) -> None:
    """Average the weights of checkpoints of one training run (steadier than any single one), or of a model
    and its fine-tunes (a weight interpolation, "model soup")."""
    from models.checkpoint import CheckpointError
    from models.weights_average import (are_run_checkpoints, average_checkpoints, averaged_sources,
                                        select_by_step)

    if last < 0:
        typer.echo(f"gre average-weights: --last {last}: give a number of checkpoints, or 0 for all", err=True)
        raise typer.Exit(2)
    if from_step is not None and from_step < 0:
        typer.echo(f"gre average-weights: --from-step {from_step}: give a training step, 0 or more", err=True)
        raise typer.Exit(2)
    files: list[Path] = []
    for item in inputs:
        if item.is_dir():
            # Earlier averages written into the folder are not checkpoints of the run: left out.
            found = [p for p in sorted(item.glob("*.safetensors")) if averaged_sources(p) is None]
            if not found:
                typer.echo(f"gre average-weights: {item}: no .safetensors files in this folder", err=True)
                raise typer.Exit(2)
            files += found
        else:
            files.append(item)
    try:
        inputs = select_by_step(files, last=last, from_step=from_step, names=("--last", "--from-step"))
    except CheckpointError as err:
        typer.echo(f"gre average-weights: {err}", err=True)
        raise typer.Exit(2) from None
    if out.suffix != ".safetensors":
        typer.echo(f"gre average-weights: {out}: the output must end in .safetensors", err=True)
        raise typer.Exit(2)
    if any(out.resolve() == p.resolve() for p in inputs):
        typer.echo(f"gre average-weights: {out} is also an input; write the average to another file", err=True)
        raise typer.Exit(2)
    if not out.parent.is_dir():
        typer.echo(f"gre average-weights: {out.parent}: no such folder", err=True)
        raise typer.Exit(2)
    try:
        sources = average_checkpoints(inputs, out)
    except CheckpointError as err:
        typer.echo(f"gre average-weights: {err}", err=True)
        raise typer.Exit(2) from None
    if are_run_checkpoints(sources):
        typer.echo(f"{out}: average of {len(sources)} checkpoints (steps {', '.join(str(s.step) for s in sources)})")
    else:
        typer.echo(f"{out}: average of {len(sources)} weight files ({', '.join(s.file for s in sources)})")


def register(app: typer.Typer) -> None:
    app.command("average-weights")(average_weights_command)
