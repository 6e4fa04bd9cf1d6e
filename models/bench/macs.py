"""Multiply-accumulates per second of audio, counted with ``torch.utils.flop_counter``.

    macs = macs_per_second(model)      # one forward on 1 s of 16 kHz audio, batch 1, fp32, CPU or the model's device

MACs = FLOPs / 2 of the matrix products PyTorch's FlopCounterMode sees: convolutions (incl.
transposed), linear layers (addmm / mm / bmm). Two kinds of op are invisible to it on CPU and are
added here by formula:

- GRU/LSTM: not needed — ``aten.gru`` decomposes into its per-step matmuls, which are counted
  (input and recurrent products, i.e. 3 gates x H x (In + H) per step and direction for a GRU).
- attention: ``F.scaled_dot_product_attention`` runs as ``_scaled_dot_product_flash_attention_for_cpu``
  and ``nn.MultiheadAttention``'s inference fast path as ``_native_multi_head_attention``; neither
  has a formula in torch. We count Q K^T and A V (2 x B x H x Lq x Lk x d) and, for the fused MHA,
  its Q/K/V and output projections.

Not counted: the STFT / iSTFT (FFTs), normalisations, activations and other element-wise work.
Attention grows with the square of the length, so MACs per second at 1 s understate long inputs.
"""
from __future__ import annotations

import math

import torch
from torch.utils.flop_counter import FlopCounterMode

aten = torch.ops.aten
ONE_SECOND = 16_000


def _attention_flops(q_shape, k_shape, v_shape) -> int:
    """FLOPs of softmax(Q K^T) V for [..., Lq, d] x [..., Lk, d] x [..., Lk, dv] (2 matmuls)."""
    *batch, lq, d = q_shape
    lk, dv = k_shape[-2], v_shape[-1]
    b = math.prod(batch)
    return 2 * b * lq * lk * d + 2 * b * lq * lk * dv


def _sdpa_cpu_flops(query, key, value, *args, out_shape=None, **kwargs) -> int:
    return _attention_flops(query, key, value)


def _native_mha_flops(query, key, value, embed_dim, num_heads, *args, out_shape=None, **kwargs) -> int:
    """nn.MultiheadAttention fast path, query/key/value [N, L, E] (batch first) or [L, E]."""
    q = query if len(query) == 3 else (1, *query)
    k = key if len(key) == 3 else (1, *key)
    n, lq, e = q
    lk = k[1]
    head = e // num_heads
    projections = 2 * n * (lq + 2 * lk) * e * e + 2 * n * lq * e * e  # Q, K, V in; output out
    return projections + _attention_flops((n, num_heads, lq, head), (n, num_heads, lk, head), (n, num_heads, lk, head))


def _custom_mapping() -> dict:
    mapping = {}
    for name, formula in (("_scaled_dot_product_flash_attention_for_cpu", _sdpa_cpu_flops),
                          ("_native_multi_head_attention", _native_mha_flops)):
        op = getattr(aten, name, None)
        if op is not None:
            mapping[op] = formula
    return mapping


@torch.inference_mode()
def macs_per_second(model: torch.nn.Module) -> int:
    """MACs of one forward of ``model`` (``forward(wave [1, 16000])``) on 1 s of audio, fp32."""
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    x = (0.1 * torch.randn(1, ONE_SECOND, generator=torch.Generator().manual_seed(0))).to(device)
    counter = FlopCounterMode(display=False, custom_mapping=_custom_mapping())
    with counter:
        model(x)
    return int(counter.get_total_flops() // 2)
