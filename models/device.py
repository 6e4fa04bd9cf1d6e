"""Device and numeric precision, decided in one place for enhance, train and benchmark."""
from __future__ import annotations

import contextlib

import torch

PRECISIONS = ("fp32", "bf16", "fp16")


def resolve_device(name: str | torch.device = "auto") -> torch.device:
    """"auto" -> first CUDA device if present, else CPU. Errors name what is available."""
    if isinstance(name, torch.device):
        return name
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ValueError(f"device {name!r} requested but CUDA is not available here; use --device cpu")
        index = int(name.split(":", 1)[1]) if ":" in name else 0
        if index >= torch.cuda.device_count():
            raise ValueError(f"device {name!r} does not exist; this machine has {torch.cuda.device_count()} GPU(s)")
    elif name != "cpu":
        raise ValueError(f"unknown device {name!r}; use auto, cpu, cuda or cuda:N")
    return torch.device(name)


def check_precision(precision: str, device: torch.device) -> None:
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; use one of {', '.join(PRECISIONS)}")
    if precision == "fp16" and device.type != "cuda":
        raise ValueError("fp16 runs on CUDA only; on CPU use --precision bf16 or fp32")


def cpu_runs_bf16_natively() -> bool:
    """Whether this CPU has bf16 arithmetic (AVX512-BF16 or AMX tiles); True when torch cannot tell.

    Without it, bf16 autocast on the CPU converts to and from fp32 around every operation: a
    MaskNet training step took 4.8-6.0x its fp32 CPU time on an AVX2-only AMD EPYC
    (`bench/results/train_speed_avx2.md`), where on a CPU with AMX it took 0.45-0.6x
    (`bench/results/train_speed.md`).
    """
    probes = [getattr(torch.cpu, name, None) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
    probes = [probe for probe in probes if probe is not None]  # private torch API: absent means unknown
    return not probes or any(probe() for probe in probes)


def precision_warning(precision: str, device: torch.device) -> str | None:
    """One line for the user when ``precision`` will run far slower than fp32 on ``device``; else None."""
    if precision == "bf16" and device.type == "cpu" and not cpu_runs_bf16_natively():
        return ("bf16 on this CPU is emulated (it has neither AVX512-BF16 nor AMX) and runs many times slower "
                "than fp32: use --precision fp32")
    return None


def autocast(precision: str, device: torch.device):
    """Autocast context for ``precision`` on ``device`` (fp32: a no-op context).

    Only the network runs under autocast; the STFT, norms' statistics and iSTFT stay fp32.
    """
    check_precision(precision, device)
    if precision == "fp32":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast(device_type=device.type, dtype=dtype)


def module_device(module: torch.nn.Module) -> torch.device:
    """Device of a module's first parameter or buffer; CPU for modules with neither (classical models)."""
    for tensor in module.parameters():
        return tensor.device
    for tensor in module.buffers():
        return tensor.device
    return torch.device("cpu")
