"""Building a torch module from an arch spec. Submodules carry the spec's layer names."""

from __future__ import annotations

import torch
from torch import nn

from hwloop.archs._spec import (
    Aggregate,
    ArchSpec,
    Branches,
    Conv1d,
    Conv2d,
    ConvAttention,
    Flatten,
    Linear,
    Pool2d,
    Upsample2d,
    branch_shapes,
)


def activation_module(name: str | None) -> nn.Module:
    if name is None:
        return nn.Identity()
    if name == "relu":
        return nn.ReLU()
    if name == "leaky_relu":
        return nn.LeakyReLU(negative_slope=0.01)
    if name == "gelu":
        return nn.GELU()
    if name == "sigmoid":
        return nn.Sigmoid()
    if name == "tanh":
        return nn.Tanh()
    raise ValueError(name)  # unreachable: specs are validated on load


class ConvAttentionBlock(nn.Module):
    """BraggNN's non-local block: ``act(x + proj(softmax(q k^T) v))`` with 1x1 convs, no 1/sqrt(d).

    q, k, v map C -> hidden channels; the H*W positions are the tokens.
    """

    def __init__(self, channels: int, hidden: int, act: str | None) -> None:
        super().__init__()
        self.hidden = hidden
        self.query = nn.Conv2d(channels, hidden, 1)
        self.key = nn.Conv2d(channels, hidden, 1)
        self.value = nn.Conv2d(channels, hidden, 1)
        self.proj = nn.Conv2d(hidden, channels, 1)
        self.act = activation_module(act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        q = self.query(x).flatten(2).transpose(1, 2)  # (b, hw, d)
        k = self.key(x).flatten(2)  # (b, d, hw)
        v = self.value(x).flatten(2).transpose(1, 2)  # (b, hw, d)
        attn = torch.softmax(q @ k, dim=-1)  # (b, hw, hw)
        z = (attn @ v).transpose(1, 2).reshape(b, self.hidden, h, w)
        return self.act(x + self.proj(z))


class SetBatchNorm(nn.BatchNorm1d):
    """Batch norm of a set's features: statistics over the batch and the set's elements, one
    (gamma, beta) per feature, so it folds into the shared per-element layer before it (nac-opt
    normalises per element slot instead, which breaks the sharing)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, N, F)
        return super().forward(x.transpose(1, 2)).transpose(1, 2)


class SetAggregate(nn.Module):
    """(B, N, F) -> (B, F): mean or max over the set's N elements."""

    def __init__(self, method: str) -> None:
        super().__init__()
        self.method = method

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=1) if self.method == "mean" else x.amax(dim=1)


class BranchesModule(nn.Module):
    """Parallel branches on one input, outputs concatenated along dim 1 (channels/features);
    ``branches[i][name]`` is branch i's layer ``name``."""

    def __init__(self, layer: Branches, shape_in: tuple[int, ...]) -> None:
        super().__init__()
        self.branches = nn.ModuleList()
        for branch in layer.branches:
            mods = nn.ModuleDict()
            for sub, (s_in, s_out) in zip(branch, branch_shapes(branch, shape_in, ""), strict=True):
                mods[sub.name] = _build_layer(sub, s_in, s_out)
            self.branches.append(mods)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outs = []
        for mods in self.branches:
            assert isinstance(mods, nn.ModuleDict)
            y = x
            for module in mods.values():
                y = module(y)
            outs.append(y)
        return torch.cat(outs, dim=1)


class SpecModule(nn.Module):
    """A network built from an :class:`ArchSpec`: ``layers[name]`` is the spec's layer ``name``.

    Conv/linear layers are ``nn.Sequential(conv|linear, norm?, act?)`` with the main op at [0]
    (absent norms and activations are left out, not Identity).
    """

    def __init__(self, spec: ArchSpec) -> None:
        super().__init__()
        self.spec = spec
        self.layers = nn.ModuleDict()
        for layer, (shape_in, shape_out) in zip(spec.layers, spec.shapes(), strict=True):
            self.layers[layer.name] = _build_layer(layer, shape_in, shape_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for module in self.layers.values():
            x = module(x)
        return x


def _build_layer(layer: object, shape_in: tuple[int, ...], shape_out: tuple[int, ...]) -> nn.Module:
    if isinstance(layer, Conv2d):
        parts: list[nn.Module] = [
            nn.Conv2d(shape_in[0], layer.out_channels, layer.kernel, padding=layer.padding)
        ]
        if layer.norm == "batch":
            parts.append(nn.BatchNorm2d(layer.out_channels))
        elif layer.norm == "layer":
            parts.append(nn.LayerNorm(list(shape_out)))  # over (C, H, W), as NAC does
        if layer.act is not None:  # no Identity modules: converters (hls4ml) reject them
            parts.append(activation_module(layer.act))
        return nn.Sequential(*parts)
    if isinstance(layer, Conv1d):
        parts = [nn.Conv1d(shape_in[0], layer.out_channels, layer.kernel, padding=layer.padding)]
        if layer.norm == "batch":
            parts.append(nn.BatchNorm1d(layer.out_channels))
        elif layer.norm == "layer":
            parts.append(nn.LayerNorm(list(shape_out)))  # over (C, L), as conv2d's
        if layer.act is not None:
            parts.append(activation_module(layer.act))
        return nn.Sequential(*parts)
    if isinstance(layer, ConvAttention):
        return ConvAttentionBlock(shape_in[0], layer.hidden, layer.act)
    if isinstance(layer, Flatten):
        return nn.Flatten(1)
    if isinstance(layer, Aggregate):
        return SetAggregate(layer.method)
    if isinstance(layer, Pool2d):
        if layer.method == "max":
            return nn.MaxPool2d(layer.size)
        return nn.AvgPool2d(layer.size)
    if isinstance(layer, Upsample2d):
        if layer.mode == "nearest":
            return nn.Upsample(scale_factor=layer.factor, mode="nearest")
        return nn.Upsample(scale_factor=layer.factor, mode="bilinear", align_corners=False)
    if isinstance(layer, Branches):
        return BranchesModule(layer, shape_in)
    if isinstance(layer, Linear):
        parts = [nn.Linear(shape_in[-1], layer.out_features)]
        if layer.norm == "batch" and len(shape_in) == 2:
            parts.append(SetBatchNorm(layer.out_features))
        elif layer.norm == "batch":
            parts.append(nn.BatchNorm1d(layer.out_features))
        elif layer.norm == "layer":
            parts.append(nn.LayerNorm(layer.out_features))
        if layer.act is not None:  # no Identity modules: converters (hls4ml) reject them
            parts.append(activation_module(layer.act))
        return nn.Sequential(*parts)
    raise TypeError(f"unknown layer {layer!r}")


def build_model(spec: ArchSpec) -> SpecModule:
    return SpecModule(spec)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
