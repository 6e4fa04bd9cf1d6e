"""The universal task as a router: a classifier says what an input suffers from, and the input goes to the
specialist models it needs, always in one order: dereverberation, denoising, bandwidth extension (the order
`bench/universal_case_probe.py` scored; session 22 found dereverberation first the slightly better of the two).

    wave [B, N] --DegradationClassifier--> noise? reverb?   (per row: a chunk of one channel)
    row --> [dereverb model if reverb] --> [denoise model if noise] --> bandwidth extender --> out

Why: one universal model of the size this project can train is behind each specialist on that specialist's own
kind of input (`bench/results/universal_case_probe_heldout.md`), while the specialists harm input that lacks their
degradation. The bandwidth extender runs on every row: it is trained to pass full-band input on unchanged and to
fill a band that is missing.

A long file is routed chunk by chunk (the chunks are cross-faded as for any model). The channels of one chunk
share one route, decided on their mean probabilities: were they routed one by one, the two channels of a stereo
recording near the threshold could take different routes (one denoised, the other not) and the stereo image
would move. Callers say which rows belong together with ``groups`` (`gre enhance` and :func:`models.api.enhance`
do; a row without a group is routed on its own). Rows that take the same route run through it together. The
classifier always runs in float32, so a route does not depend on the precision the models run at.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from models import stft as S
from models.enhancer import ModelInfo
from models.nets.degradation import DegradationClassifier

#: The metadata kind of a router file (a classifier that names its specialist models).
ROUTER_KIND = "degradation-router"


class RoutedEnhancer(nn.Module):
    """forward(wave [B, N], gain [B] | None, groups [B] | None) -> wave [B, N]; see the module docstring.

    ``dereverb``, ``denoise`` and ``bwe`` are Enhancer-like modules at one sample rate (the classifier's).
    ``routes(wave)`` gives each row's route as a tuple of stage names, for logs and tests. ``groups`` [B] (integer
    ids, optional) marks rows that must share a route: the channels of one chunk of one file.
    """

    #: Callers that know which rows belong together pass ``groups`` (:func:`models.enhancer.accepts_groups`).
    routes_rows_in_groups = True

    def __init__(self, classifier: DegradationClassifier, dereverb: nn.Module, denoise: nn.Module, bwe: nn.Module,
                 info: ModelInfo | None = None):
        super().__init__()
        rates = {classifier.cfg.sample_rate_hz, dereverb.sample_rate_hz, denoise.sample_rate_hz, bwe.sample_rate_hz}
        if len(rates) != 1:
            raise ValueError(f"a router's classifier and models must share one sample rate, got {sorted(rates)}")
        for role, model in (("dereverb", dereverb), ("denoise", denoise), ("bwe", bwe)):
            mode = getattr(getattr(model, "info", None), "mode", "enhance")
            if mode != "enhance":
                raise ValueError(f"a router's models must enhance; its {role} model {_name(model)} is a {mode} model")
        if set(classifier.cfg.labels) != {"noise", "reverb"}:
            raise ValueError(f"a router's classifier must detect noise and reverb, not {classifier.cfg.labels}")
        self.classifier = classifier
        self.stages = nn.ModuleDict({"dereverb": dereverb, "denoise": denoise, "bwe": bwe})
        self.info = info or ModelInfo(
            name="router", arch="router", config_name="+".join(_name(m) for m in (dereverb, denoise, bwe)),
            tasks=("universal",), mode="enhance", sample_rate_hz=bwe.sample_rate_hz, source="router")

    @property
    def sample_rate_hz(self) -> int:
        return self.classifier.cfg.sample_rate_hz

    @property
    def whole_file(self) -> bool:
        return False

    @property
    def extends_bandwidth(self) -> bool:
        """Every route ends in the bandwidth extender: narrowband input comes out at the model rate."""
        return True

    def probabilities(self, wave: torch.Tensor) -> dict[str, torch.Tensor]:
        """{"noise": [B], "reverb": [B]} probabilities, from the classifier run in float32 whatever autocast is on."""
        with torch.autocast(wave.device.type, enabled=False):
            return self.classifier.probabilities(wave.float())

    def routes(self, wave: torch.Tensor, threshold: float = 0.5,
               groups: torch.Tensor | None = None) -> list[tuple[str, ...]]:
        """Each row's stages, in order: ("dereverb"?, "denoise"?, "bwe"). Rows of one group (``groups`` [B])
        share the route their mean probabilities give."""
        prob = self.probabilities(wave)
        if groups is not None:
            prob = {k: group_mean(v, groups) for k, v in prob.items()}
        reverb, noise = (prob["reverb"] > threshold).tolist(), (prob["noise"] > threshold).tolist()
        return [(("dereverb",) if r else ()) + (("denoise",) if n else ()) + ("bwe",) for r, n in zip(reverb, noise)]

    def forward(self, wave: torch.Tensor, gain: torch.Tensor | None = None,
                groups: torch.Tensor | None = None) -> torch.Tensor:
        wave = wave.float()
        if gain is None:
            gain = S.loudness_gain(wave)  # of the router's input, shared by every stage (as in a chain)
        gain = gain.to(wave.device)
        out = torch.empty_like(wave)
        routes = self.routes(wave, groups=groups)
        for route in dict.fromkeys(routes):
            rows = torch.tensor([i for i, r in enumerate(routes) if r == route], device=wave.device)
            x, g = wave.index_select(0, rows), gain.index_select(0, rows)
            for stage in route:
                x = self.stages[stage](x, g).float()
            out.index_copy_(0, rows, x)
        return out


def group_mean(values: torch.Tensor, groups: torch.Tensor) -> torch.Tensor:
    """values [B] -> [B]: each row's value replaced by the mean over the rows of its group (``groups`` [B],
    integer ids, in any order)."""
    if groups.shape != values.shape:
        raise ValueError(f"groups must give one id per row: {tuple(groups.shape)} for {tuple(values.shape)}")
    _, index = torch.unique(groups.to(values.device), return_inverse=True)
    total = torch.zeros(int(index.max()) + 1 if index.numel() else 0, dtype=values.dtype, device=values.device)
    count = torch.zeros_like(total)
    total.index_add_(0, index, values)
    count.index_add_(0, index, torch.ones_like(values))
    return (total / count)[index]


def _name(stage: nn.Module) -> str:
    info = getattr(stage, "info", None)
    return info.name if info is not None else type(stage).__name__


def router_stage_names(metadata: dict[str, str]) -> Sequence[str] | None:
    """(dereverb, denoise, bwe) registry names from a router file's metadata, or None if it is not one."""
    import json

    if metadata.get("kind") != ROUTER_KIND:
        return None
    names = json.loads(metadata.get("stages", "[]"))
    if len(names) != 3:
        raise ValueError("a router file must name three models (dereverb, denoise, bwe) in its metadata")
    return names
