"""Rotation-equivariant building blocks for the phase stream.

A complex feature map with P channels is stored as one real tensor with 2P channels,
[Re (P) | Im (P)], along the channel axis (dim 1 for maps, the last dim for tokens).

Every complex layer here is bias-free and C-linear, so multiplying the input by e^{jθ}
multiplies the output by e^{jθ}. Each is computed as a single real convolution / matmul
with the block weight [[W_r, -W_i], [W_i, W_r]]: one kernel call instead of four, same maths.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def _block_weight(w_re: torch.Tensor, w_im: torch.Tensor) -> torch.Tensor:
    """[[W_r, -W_i], [W_i, W_r]] for weights laid out (out, in, ...)."""
    top = torch.cat([w_re, -w_im], dim=1)
    bottom = torch.cat([w_im, w_re], dim=1)
    return torch.cat([top, bottom], dim=0)


def _block_weight_transposed(w_re: torch.Tensor, w_im: torch.Tensor) -> torch.Tensor:
    """Block weight for transposed convolutions, whose weights are laid out (in, out, k)."""
    re_rows = torch.cat([w_re, w_im], dim=1)
    im_rows = torch.cat([-w_im, w_re], dim=1)
    return torch.cat([re_rows, im_rows], dim=0)


def stat(x: torch.Tensor) -> torch.Tensor:
    """``x`` in the dtype norm statistics are taken in: float32, or float64 for float64 inputs."""
    return x if x.dtype == torch.float64 else x.float()


def _init_like_conv(weight: torch.Tensor) -> None:
    nn.init.kaiming_uniform_(weight, a=math.sqrt(5))


class ComplexConv2d(nn.Module):
    """Bias-free complex 2-D convolution: [B, 2*Cin, T, F] -> [B, 2*Cout, T', F']."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: tuple[int, int],
                 stride: tuple[int, int] = (1, 1), padding: tuple[int, int] = (0, 0),
                 dilation: tuple[int, int] = (1, 1)):
        super().__init__()
        shape = (out_channels, in_channels, *kernel_size)
        self.weight_re = nn.Parameter(torch.empty(shape))
        self.weight_im = nn.Parameter(torch.empty(shape))
        _init_like_conv(self.weight_re)
        _init_like_conv(self.weight_im)
        self.stride, self.padding, self.dilation = stride, padding, dilation

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        weight = _block_weight(self.weight_re, self.weight_im).to(z.dtype)
        return F.conv2d(z, weight, None, self.stride, self.padding, self.dilation)


class ComplexConv1d(nn.Module):
    """Bias-free complex 1-D convolution: [N, 2*Cin, L] -> [N, 2*Cout, L - k + 1]."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int):
        super().__init__()
        self.weight_re = nn.Parameter(torch.empty(out_channels, in_channels, kernel_size))
        self.weight_im = nn.Parameter(torch.empty(out_channels, in_channels, kernel_size))
        _init_like_conv(self.weight_re)
        _init_like_conv(self.weight_im)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return F.conv1d(z, _block_weight(self.weight_re, self.weight_im).to(z.dtype))


class ComplexConvTranspose1d(nn.Module):
    """Bias-free complex transposed 1-D convolution: [N, 2*Cin, L] -> [N, 2*Cout, L + k - 1]."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int):
        super().__init__()
        self.weight_re = nn.Parameter(torch.empty(in_channels, out_channels, kernel_size))
        self.weight_im = nn.Parameter(torch.empty(in_channels, out_channels, kernel_size))
        _init_like_conv(self.weight_re)
        _init_like_conv(self.weight_im)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return F.conv_transpose1d(z, _block_weight_transposed(self.weight_re, self.weight_im).to(z.dtype))


class ComplexLinear(nn.Module):
    """Bias-free complex linear map on tokens: [..., 2*Cin] -> [..., 2*Cout]."""

    def __init__(self, in_features: int, out_features: int):
        super().__init__()
        self.weight_re = nn.Parameter(torch.empty(out_features, in_features))
        self.weight_im = nn.Parameter(torch.empty(out_features, in_features))
        _init_like_conv(self.weight_re)
        _init_like_conv(self.weight_im)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return F.linear(z, _block_weight(self.weight_re, self.weight_im).to(z.dtype))


def split_complex(z: torch.Tensor, dim: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """[.., 2C, ..] -> (Re [.., C, ..], Im [.., C, ..])."""
    return z.chunk(2, dim=dim)


def modulus(z: torch.Tensor, dim: int = 1, eps: float = 1e-9) -> torch.Tensor:
    """|z| per complex channel (rotation invariant); eps keeps the gradient finite at 0."""
    re, im = split_complex(z, dim)
    return torch.sqrt(re * re + im * im + eps)


class MapComplexRMSNorm(nn.Module):
    """Complex RMS norm of a feature map (the authors' CFWiseComplexRMSNorm).

    Per sample and channel, divides by sqrt(mean over (T, F) of |z|^2), then multiplies by a
    real per-channel, per-frequency gain. No mean subtraction and no bias, so it is
    rotation equivariant. [B, 2P, T, F] -> same.
    """

    def __init__(self, channels: int, n_freqs: int):
        super().__init__()
        self.gain = nn.Parameter(torch.ones(1, channels, 1, n_freqs))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        re, im = split_complex(z, 1)
        # The authors take |z| with +1e-9 inside the root and add 1e-7 to the mean square.
        power = stat(re * re + im * im).mean(dim=(2, 3), keepdim=True) + 1e-9 + 1e-7
        scale = power.rsqrt().to(z.dtype) * self.gain.to(z.dtype)
        return torch.cat([re * scale, im * scale], dim=1)


class MapRMSNorm(nn.Module):
    """Per-sample, per-channel RMS norm over (T, F) with affine gain and bias. [B, C, T, F]."""

    def __init__(self, channels: int, eps: float = 1e-5):
        super().__init__()
        self.gain = nn.Parameter(torch.ones(1, channels, 1, 1))
        self.bias = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        power = stat(x).pow(2).mean(dim=(2, 3), keepdim=True) + self.eps
        return x * power.rsqrt().to(x.dtype) * self.gain.to(x.dtype) + self.bias.to(x.dtype)


class TokenRMSNorm(nn.Module):
    """RMS norm over the channel axis of tokens [..., C], real gain, no bias."""

    def __init__(self, channels: int, eps: float = 1e-9):
        super().__init__()
        self.gain = nn.Parameter(torch.ones(channels))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        power = stat(x).pow(2).mean(dim=-1, keepdim=True) + self.eps
        return x * power.rsqrt().to(x.dtype) * self.gain.to(x.dtype)


class TokenComplexRMSNorm(nn.Module):
    """Complex RMS norm over the channel axis of tokens [..., 2P]: z * g / sqrt(mean_c |z_c|^2)."""

    def __init__(self, channels: int, eps: float = 1e-10):
        super().__init__()
        self.gain = nn.Parameter(torch.ones(channels))
        self.eps = eps

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        re, im = split_complex(z, -1)
        power = stat(re * re + im * im).mean(dim=-1, keepdim=True) + self.eps
        scale = power.rsqrt().to(z.dtype)
        gain = self.gain.to(z.dtype)
        return torch.cat([re * scale * gain, im * scale * gain], dim=-1)
