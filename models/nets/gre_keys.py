"""Name mapping between the authors' RENet state dicts and our GRENet.

Their files are ``torch.save({'generator': state_dict})``. Tensor shapes are identical on both
sides; only names differ. The rules below rename one of their keys to ours, in order; the
first full match wins. Documented here once so the mapping can be read as a table.

| theirs                                              | ours                                   |
|-----------------------------------------------------|----------------------------------------|
| dense_encoder.dense_conv_1.X                        | encoder.input_block.X                  |
| dense_encoder.dense_block.dense_block.{i}.1.X       | encoder.dense.layers.{i}.X             |
| dense_encoder.dense_conv_3.X                        | encoder.downsample.X                   |
| TSTransformer.{n}.time_transformer.X / freq_...     | bottleneck.{n}.time.X / .freq.X        |
| decoder.dense_block.dense_block.{i}.1.X             | decoder.dense.layers.{i}.X             |
| decoder.upsample_layer.X                            | decoder.upsample.X                     |
| decoder.amp_conv_layer.0.{weight,bias}              | decoder.magnitude_head.{weight,bias}   |
| decoder.ang_conv.conv_{re,im}.weight                | decoder.phase_head.weight_{re,im}      |
| (MPICM) conv_amp[.conv].{weight,bias}               | mag_conv.{weight,bias}                 |
| (MPICM) conv_ang[.conv].conv_{re,im}.weight         | phase_conv.weight_{re,im}              |
| (MPICM) norm_amp.{gain,bias}_matrix                 | mag_norm.{gain,bias}                   |
| (MPICM) norm_ang.gain_matrix                        | phase_norm.gain                        |
| (MPICM) pconv_ang2amp.* / act_ang2amp.slope         | phase_to_mag_gate.proj.* / .slope      |
| (MPICM) pconv_amp2ang.* / act_amp2ang.slope         | mag_to_phase_gate.proj.* / .slope      |
| (HADF) norm1.g / cnorm1.gamma                       | mag_norm_attn.gain / phase_norm_attn.gain |
| (HADF) norm2.g / cnorm2.gamma                       | mag_norm_ffn.gain / phase_norm_ffn.gain |
| (HADF) norm3.g / cnorm3.gamma                       | mag_norm_out.gain / phase_norm_out.gain |
| (HADF) att.to_{q,k,v}_amp.weight                    | attn.{q,k,v}_mag.weight                |
| (HADF) att.to_{q,k,v}_ang.weight_{r,i}              | attn.{q,k,v}_phase.weight_{re,im}      |
| (HADF) att.to_out_amp.* / att.to_out_ang.weight_{r,i} | attn.out_mag.* / attn.out_phase.weight_{re,im} |
| (HADF) amp_ffn.gru.* / amp_ffn.linear.*             | mag_ffn.gru.* / mag_ffn.proj.*         |
| (HADF) ang_ffn.conv1d.conv_{re,im}.weight           | phase_ffn.conv.weight_{re,im}          |
| (HADF) ang_ffn.gate_ln.*                            | phase_ffn.gate_norm.*                  |
| (HADF) ang_ffn.deconv1d.conv_{re,im}.weight         | phase_ffn.deconv.weight_{re,im}        |
"""
from __future__ import annotations

import re

_PREFIX_RULES: list[tuple[str, str]] = [
    (r"^dense_encoder\.dense_conv_1\.", "encoder.input_block."),
    (r"^dense_encoder\.dense_block\.dense_block\.(\d+)\.1\.", r"encoder.dense.layers.\1."),
    (r"^dense_encoder\.dense_conv_3\.", "encoder.downsample."),
    (r"^TSTransformer\.(\d+)\.time_transformer\.", r"bottleneck.\1.time."),
    (r"^TSTransformer\.(\d+)\.freq_transformer\.", r"bottleneck.\1.freq."),
    (r"^decoder\.dense_block\.dense_block\.(\d+)\.1\.", r"decoder.dense.layers.\1."),
    (r"^decoder\.upsample_layer\.", "decoder.upsample."),
    (r"^decoder\.amp_conv_layer\.0\.", "decoder.magnitude_head."),
    (r"^decoder\.ang_conv\.conv_(re|im)\.weight$", r"decoder.phase_head.weight_\1"),
]

_LEAF_RULES: list[tuple[str, str]] = [
    # MPICM
    (r"conv_amp\.(?:conv\.)?(weight|bias)$", r"mag_conv.\1"),
    (r"conv_ang\.(?:conv\.)?conv_(re|im)\.weight$", r"phase_conv.weight_\1"),
    (r"norm_amp\.gain_matrix$", "mag_norm.gain"),
    (r"norm_amp\.bias_matrix$", "mag_norm.bias"),
    (r"norm_ang\.gain_matrix$", "phase_norm.gain"),
    (r"pconv_ang2amp\.(weight|bias)$", r"phase_to_mag_gate.proj.\1"),
    (r"act_ang2amp\.slope$", "phase_to_mag_gate.slope"),
    (r"pconv_amp2ang\.(weight|bias)$", r"mag_to_phase_gate.proj.\1"),
    (r"act_amp2ang\.slope$", "mag_to_phase_gate.slope"),
    # HADF
    (r"^norm1\.g$", "mag_norm_attn.gain"),
    (r"^cnorm1\.gamma$", "phase_norm_attn.gain"),
    (r"^norm2\.g$", "mag_norm_ffn.gain"),
    (r"^cnorm2\.gamma$", "phase_norm_ffn.gain"),
    (r"^norm3\.g$", "mag_norm_out.gain"),
    (r"^cnorm3\.gamma$", "phase_norm_out.gain"),
    (r"^att\.to_([qkv])_amp\.weight$", r"attn.\1_mag.weight"),
    (r"^att\.to_([qkv])_ang\.weight_r$", r"attn.\1_phase.weight_re"),
    (r"^att\.to_([qkv])_ang\.weight_i$", r"attn.\1_phase.weight_im"),
    (r"^att\.to_out_amp\.(weight|bias)$", r"attn.out_mag.\1"),
    (r"^att\.to_out_ang\.weight_r$", "attn.out_phase.weight_re"),
    (r"^att\.to_out_ang\.weight_i$", "attn.out_phase.weight_im"),
    (r"^amp_ffn\.gru\.(.+)$", r"mag_ffn.gru.\1"),
    (r"^amp_ffn\.linear\.(weight|bias)$", r"mag_ffn.proj.\1"),
    (r"^ang_ffn\.conv1d\.conv_(re|im)\.weight$", r"phase_ffn.conv.weight_\1"),
    (r"^ang_ffn\.gate_ln\.(weight|bias)$", r"phase_ffn.gate_norm.\1"),
    (r"^ang_ffn\.deconv1d\.conv_(re|im)\.weight$", r"phase_ffn.deconv.weight_\1"),
    # plain layers whose prefix rule already named the module (the magnitude head)
    (r"^(weight|bias)$", r"\1"),
]


def authors_key_to_ours(key: str) -> str:
    """Rename one RENet state-dict key to our GRENet name; raises KeyError if no rule fits."""
    for pattern, repl in _PREFIX_RULES:
        match = re.match(pattern, key)
        if not match:
            continue
        head = match.expand(repl)
        rest = key[match.end():]
        if not rest:  # the rule consumed the whole key
            return head
        for leaf_pattern, leaf_repl in _LEAF_RULES:
            leaf = re.fullmatch(leaf_pattern, rest)
            if leaf:
                return head + leaf.expand(leaf_repl)
        break
    raise KeyError(f"no mapping rule for RENet key {key!r}")


def looks_like_authors_gre(state: dict) -> bool:
    """True when a state dict uses the authors' RENet names."""
    # MP-SENet uses the same top-level names; only RENet's MPICM has a complex phase conv.
    return "dense_encoder.dense_conv_1.conv_ang.conv_re.weight" in state and any(
        k.startswith("TSTransformer.") for k in state)


def convert_authors_state(state: dict) -> dict:
    """Whole RENet state dict -> our names (same tensors)."""
    return {authors_key_to_ours(k): v for k, v in state.items()}


def infer_authors_config_name(state: dict) -> str:
    """Which named GRE config a RENet state dict matches, from tensor shapes.

    `standard` and `universal` have identical shapes; `standard` is returned for both.
    """
    mag = state["dense_encoder.dense_conv_1.conv_amp.weight"].shape[0]
    phase = state["dense_encoder.dense_conv_1.conv_ang.conv_re.weight"].shape[0]
    blocks = len({k.split(".")[1] for k in state if k.startswith("TSTransformer.")})
    heads_mag = state["TSTransformer.0.time_transformer.att.to_q_amp.weight"].shape[0]
    from models.config import GRE_CONFIGS

    for name in ("standard", "small"):
        cfg = GRE_CONFIGS[name]
        if (cfg.mag_channels, cfg.phase_channels, cfg.num_blocks, cfg.num_heads * cfg.mag_head_dim) == (
            mag, phase, blocks, heads_mag
        ):
            return name
    raise ValueError(
        f"RENet checkpoint with A={mag}, P={phase}, blocks={blocks} matches no known config "
        "(standard: A=48, P=16; small: A=32, P=16)"
    )
