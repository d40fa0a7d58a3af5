"""The seed's CNN spaces (DeepHyper NAS, Table 1), scaled for a laptop CPU (docs/xray.md).

- ``BraggCNNSpace`` (cnnBragg): 1-``max_conv`` 3x3 conv layers with ReLU, filters per layer, no
  padding while the map stays at least 3x3 and 'same' padding after that, then a flatten, an
  optional hidden linear layer and the (x, y) output.
- ``PtychoCNNSpace`` (cnnPtycho): PtychoNN's shape. An encoder of ``levels`` levels, each
  ``encoder_layers`` 3x3 'same' convs with ReLU and a 2x2 max pool, filters per level; two
  decoders with the same structure (amplitude and phase), each ``levels`` upsampling levels of
  ``decoder_layers`` convs with ReLU and a bilinear x2 upsampling, filters per level, then a 3x3
  conv to one map: sigmoid for the amplitude, tanh for the phase / pi. The two maps are
  concatenated and flattened to the task's (amplitude, phase) vector. The published
  ``ptychonn`` is the point (levels 3, 2 + 2 convs, encoder 32/64/128, decoders 128/64/64).

Both also sample batch size, learning rate and epochs (``SearchSpace.sample_training``).
"""

from __future__ import annotations

from typing import Any

import optuna

from hwloop.archs import ArchSpec, Branches, Conv2d, Flatten, Linear, Pool2d, Upsample2d
from hwloop.spaces._base import SearchSpace

BRAGG_FILTERS = (4, 8, 16, 32, 64)
BRAGG_MAX_CONV = 4
BRAGG_DENSE = (0, 16, 32, 64, 128)  # 0: no hidden linear layer

PTYCHO_FILTERS = (8, 16, 32, 64, 128)
PTYCHO_MAX_LEVELS = 3
PTYCHO_MAX_LAYERS = 2  # convs per level (PtychoNN: 2)


class BraggCNNSpace(SearchSpace):
    name = "cnn"
    samples_training = True

    def __init__(
        self,
        task: str,
        input_shape: tuple[int, ...],
        output_size: int,
        filters: tuple[int, ...] = BRAGG_FILTERS,
        max_conv: int = BRAGG_MAX_CONV,
        dense: tuple[int, ...] = BRAGG_DENSE,
    ) -> None:
        self.task = task
        self.input_shape = input_shape
        self.output_size = output_size
        self.filters = filters
        self.max_conv = max_conv
        self.dense = dense

    def sample(self, trial: optuna.trial.BaseTrial) -> ArchSpec:
        size = self.input_shape[1]
        layers: list[Any] = []
        for j in range(trial.suggest_int("conv_layers", 1, self.max_conv)):
            padding = 0 if size - 2 >= 3 else 1
            size = size - 2 + 2 * padding
            filters = trial.suggest_categorical(f"conv{j}_filters", self.filters)
            layers.append(Conv2d(f"conv{j}", filters, 3, padding=padding, act="relu"))
        layers.append(Flatten("flatten"))
        units = trial.suggest_categorical("dense_units", self.dense)
        if units:
            layers.append(Linear("fc0", units, act="relu"))
        layers.append(Linear("out", self.output_size))
        return ArchSpec(tuple(self.input_shape), tuple(layers), task=self.task)

    def _params(self, spec: ArchSpec) -> dict[str, Any]:
        convs = [x for x in spec.layers if isinstance(x, Conv2d)]
        hidden = [x for x in spec.layers if isinstance(x, Linear) and x.name != "out"]
        if len(hidden) > 1:
            raise ValueError("more than one hidden linear layer")
        params: dict[str, Any] = {"conv_layers": len(convs)}
        params.update({f"conv{j}_filters": c.out_channels for j, c in enumerate(convs)})
        params["dense_units"] = hidden[0].out_features if hidden else 0
        return params

    def reason(self, spec: ArchSpec) -> str:
        return (
            f"arch {spec.name!r} is outside the Bragg cnn space (1-{self.max_conv} 3x3 ReLU convs "
            f"of {self.filters} filters, then at most one hidden linear layer)"
        )


class PtychoCNNSpace(SearchSpace):
    name = "cnn"
    samples_training = True

    def __init__(
        self,
        task: str,
        input_shape: tuple[int, ...],
        output_size: int,
        filters: tuple[int, ...] = PTYCHO_FILTERS,
        max_levels: int = PTYCHO_MAX_LEVELS,
        max_layers: int = PTYCHO_MAX_LAYERS,
    ) -> None:
        self.task = task
        self.input_shape = input_shape
        self.output_size = output_size
        self.filters = filters
        self.max_levels = max_levels
        self.max_layers = max_layers

    def sample(self, trial: optuna.trial.BaseTrial) -> ArchSpec:
        levels = trial.suggest_int("levels", 1, self.max_levels)
        n_enc = trial.suggest_int("encoder_layers", 1, self.max_layers)
        n_dec = trial.suggest_int("decoder_layers", 1, self.max_layers)
        enc = [trial.suggest_categorical(f"enc{i}_filters", self.filters) for i in range(levels)]
        dec = [trial.suggest_categorical(f"dec{i}_filters", self.filters) for i in range(levels)]
        return ptycho_cnn(self.input_shape, enc, dec, n_enc, n_dec, task=self.task)

    def _params(self, spec: ArchSpec) -> dict[str, Any]:
        pools = [x for x in spec.layers if isinstance(x, Pool2d)]
        levels = len(pools)
        convs = [x for x in spec.layers if isinstance(x, Conv2d)]
        n_enc = len(convs) // levels
        heads = next(x for x in spec.layers if isinstance(x, Branches))
        amp = heads.branches[0]
        ups = [x for x in amp if isinstance(x, Upsample2d)]
        dec_convs = [x for x in amp if isinstance(x, Conv2d)][:-1]
        n_dec = len(dec_convs) // max(1, len(ups))
        params: dict[str, Any] = {
            "levels": levels,
            "encoder_layers": n_enc,
            "decoder_layers": n_dec,
        }
        params.update({f"enc{i}_filters": convs[i * n_enc].out_channels for i in range(levels)})
        params.update({f"dec{i}_filters": dec_convs[i * n_dec].out_channels for i in range(levels)})
        return params

    def reason(self, spec: ArchSpec) -> str:
        return (
            f"arch {spec.name!r} is outside the ptycho cnn space (1-{self.max_levels} levels of "
            f"1-{self.max_layers} convs of {self.filters} filters, two decoders)"
        )


def ptycho_cnn(
    input_shape: tuple[int, ...],
    encoder: list[int],
    decoder: list[int],
    encoder_layers: int = 2,
    decoder_layers: int = 2,
    task: str = "ptycho",
    name: str = "",
) -> ArchSpec:
    """A PtychoNN-shaped network: ``encoder[i]`` / ``decoder[i]`` filters at level i."""
    layers: list[Any] = []
    for i, f in enumerate(encoder):
        layers += [Conv2d(f"e{i}c{j}", f, 3, padding=1, act="relu") for j in range(encoder_layers)]
        layers.append(Pool2d(f"e{i}pool", 2))

    def decoder_branch(head: str, act: Any) -> tuple[Any, ...]:
        out: list[Any] = []
        for i, f in enumerate(decoder):
            out += [
                Conv2d(f"{head}{i}c{j}", f, 3, padding=1, act="relu") for j in range(decoder_layers)
            ]
            out.append(Upsample2d(f"{head}{i}up", 2))
        out.append(Conv2d(f"{head}_out", 1, 3, padding=1, act=act))
        return tuple(out)

    layers.append(
        Branches("decoders", (decoder_branch("amp", "sigmoid"), decoder_branch("ph", "tanh")))
    )
    layers.append(Flatten("flatten"))
    return ArchSpec(tuple(input_shape), tuple(layers), task=task, name=name)
