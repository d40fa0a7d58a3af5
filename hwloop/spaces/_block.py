"""The hierarchical block space of NAC (seed tables 2 and 7) for image-like inputs.

Structure: a 3x3 projection conv (``stem``, no norm or activation, as in NAC), then up to three
feature blocks, each ``conv`` (two conv layers), ``conv_attention`` (BraggNN's non-local block)
or ``none``, then a flatten and an MLP head of 1-4 linear layers whose last layer has the task's
output size. Conv layers use no padding while their output stays at least 3x3 and 'same' padding
after that, so every sampled architecture is valid.
"""

from __future__ import annotations

import re
from typing import Any

import optuna

from hwloop.archs import ArchSpec, Conv2d, ConvAttention, Flatten, Linear
from hwloop.spaces._base import SearchSpace, choice_name, opt_choice

CHANNELS = (1, 2, 4, 8, 16, 32, 64)
KERNELS = (1, 3)
NORMS = ("batch", "layer", "none")
ACTS = ("relu", "leaky_relu", "gelu", "none")
BLOCKS = ("conv", "conv_attention", "none")
ATTN_HIDDEN = (1, 2, 4, 8, 16, 32)
WIDTHS = (4, 8, 16, 32, 64)
N_BLOCKS = 3
CONV_LAYERS = 2
MAX_HEAD = 4
_BLOCK_NAME = re.compile(r"^b\d_(conv0|attn)$")


def _padding(kernel: int, size: int) -> int:
    return 0 if size - kernel + 1 >= 3 else (kernel - 1) // 2


class BlockSpace(SearchSpace):
    name = "block"

    def __init__(
        self,
        task: str,
        input_shape: tuple[int, ...],
        output_size: int,
        channels: tuple[int, ...] = CHANNELS,
        widths: tuple[int, ...] = WIDTHS,
    ) -> None:
        self.task = task
        self.input_shape = input_shape
        self.output_size = output_size
        self.channels = channels
        self.widths = widths

    def sample(self, trial: optuna.trial.BaseTrial) -> ArchSpec:
        size = self.input_shape[1] - 2
        layers: list[Any] = [
            Conv2d("stem", trial.suggest_categorical("stem_channels", self.channels), 3)
        ]
        for b in range(N_BLOCKS):
            kind = trial.suggest_categorical(f"b{b}_type", BLOCKS)
            if kind == "conv":
                for j in range(CONV_LAYERS):
                    p = f"b{b}_conv{j}"
                    k = trial.suggest_categorical(f"{p}_kernel", KERNELS)
                    pad = _padding(k, size)
                    size = size + 2 * pad - k + 1
                    layers.append(
                        Conv2d(
                            p,
                            trial.suggest_categorical(f"{p}_channels", self.channels),
                            k,
                            pad,
                            norm=opt_choice(trial.suggest_categorical(f"{p}_norm", NORMS)),
                            act=opt_choice(trial.suggest_categorical(f"{p}_act", ACTS)),
                        )
                    )
            elif kind == "conv_attention":
                layers.append(
                    ConvAttention(
                        f"b{b}_attn",
                        trial.suggest_categorical(f"b{b}_attn_hidden", ATTN_HIDDEN),
                        act=opt_choice(trial.suggest_categorical(f"b{b}_attn_act", ACTS)),
                    )
                )
        layers.append(Flatten("flatten"))
        n_head = trial.suggest_int("head_layers", 1, MAX_HEAD)
        for j in range(n_head):
            last = j == n_head - 1
            width = (
                self.output_size if last else trial.suggest_categorical(f"fc{j}_width", self.widths)
            )
            layers.append(
                Linear(
                    "out" if last else f"fc{j}",
                    width,
                    norm=opt_choice(trial.suggest_categorical(f"fc{j}_norm", NORMS)),
                    act=opt_choice(trial.suggest_categorical(f"fc{j}_act", ACTS)),
                )
            )
        return ArchSpec(tuple(self.input_shape), tuple(layers), task=self.task)

    def reason(self, spec: ArchSpec) -> str:
        return (
            f"arch {spec.name!r} is outside the {self.name} space (stem channels in "
            f"{self.channels}, <= {N_BLOCKS} blocks of {CONV_LAYERS} convs or one attention, "
            f"<= {MAX_HEAD} linear layers, widths in {self.widths})"
        )

    def _params(self, spec: ArchSpec) -> dict[str, Any]:
        layers = list(spec.layers)
        p: dict[str, Any] = {}
        stem = layers.pop(0)
        if not isinstance(stem, Conv2d) or stem.kernel != 3 or stem.norm or stem.act:
            raise ValueError("stem")
        p["stem_channels"] = stem.out_channels
        used: set[int] = set()
        while layers and not isinstance(layers[0], Flatten):
            layer = layers.pop(0)
            b = int(layer.name[1]) if _BLOCK_NAME.match(layer.name) else -1
            if b in used or not 0 <= b < N_BLOCKS:
                raise ValueError("block")  # blocks are named b<i>_..., each index once
            used.add(b)
            if isinstance(layer, ConvAttention):
                p[f"b{b}_type"] = "conv_attention"
                p[f"b{b}_attn_hidden"] = layer.hidden
                p[f"b{b}_attn_act"] = choice_name(layer.act)
            elif isinstance(layer, Conv2d):
                p[f"b{b}_type"] = "conv"
                convs = [layer, layers.pop(0)]
                for j, c in enumerate(convs):
                    if not isinstance(c, Conv2d):
                        raise ValueError("block")
                    q = f"b{b}_conv{j}"
                    p.update(
                        {
                            f"{q}_kernel": c.kernel,
                            f"{q}_channels": c.out_channels,
                            f"{q}_norm": choice_name(c.norm),
                            f"{q}_act": choice_name(c.act),
                        }
                    )
            else:
                raise ValueError("block")
        for rest in set(range(N_BLOCKS)) - used:
            p[f"b{rest}_type"] = "none"
        head = [x for x in layers[1:]]
        if not head or not all(isinstance(x, Linear) for x in head):
            raise ValueError("head")
        p["head_layers"] = len(head)
        for j, lin in enumerate(head):
            assert isinstance(lin, Linear)
            if j < len(head) - 1:
                p[f"fc{j}_width"] = lin.out_features
            p[f"fc{j}_norm"] = choice_name(lin.norm)
            p[f"fc{j}_act"] = choice_name(lin.act)
        return p
