"""An MLP space: flatten the input, 1-``max_hidden`` hidden linear layers with ReLU, the task's
output. With ``train`` it also samples batch size, learning rate and epochs, as the seed's
DeepHyper spaces (mlpBragg, mlpPtycho) do."""

from __future__ import annotations

from typing import Any

import optuna

from hwloop.archs import ArchSpec, Flatten, Linear
from hwloop.spaces._base import SearchSpace

UNITS = (8, 16, 32, 64, 128, 256)
MAX_HIDDEN = 4


class MLPSpace(SearchSpace):
    """Hidden widths in ``units``, 1..``max_hidden`` layers, ReLU; output layer linear."""

    name = "mlp"

    def __init__(
        self,
        task: str,
        input_shape: tuple[int, ...],
        output_size: int,
        units: tuple[int, ...] = UNITS,
        max_hidden: int = MAX_HIDDEN,
        train: bool = False,
    ) -> None:
        self.task = task
        self.input_shape = input_shape
        self.output_size = output_size
        self.units = units
        self.max_hidden = max_hidden
        self.samples_training = train

    def sample(self, trial: optuna.trial.BaseTrial) -> ArchSpec:
        layers: list[Any] = []
        if len(self.input_shape) > 1:
            layers.append(Flatten("flatten"))
        n = trial.suggest_int("hidden_layers", 1, self.max_hidden)
        for j in range(n):
            layers.append(
                Linear(f"fc{j}", trial.suggest_categorical(f"fc{j}_units", self.units), act="relu")
            )
        layers.append(Linear("out", self.output_size))
        return ArchSpec(tuple(self.input_shape), tuple(layers), task=self.task)

    def params_for(self, spec: ArchSpec) -> dict[str, Any] | None:
        hidden = [x for x in spec.layers if isinstance(x, Linear) and x.name != "out"]
        if not 1 <= len(hidden) <= self.max_hidden:
            return None
        params: dict[str, Any] = {"hidden_layers": len(hidden)}
        params.update({f"fc{j}_units": x.out_features for j, x in enumerate(hidden)})
        try:
            same = self.rebuild(params).digest == spec.digest
        except (ValueError, IndexError):
            return None
        return params if same else None

    def reason(self, spec: ArchSpec) -> str:
        return (
            f"arch {spec.name!r} is outside the mlp space (1-{self.max_hidden} ReLU layers of "
            f"{self.units} units)"
        )
