"""The Deep Sets space of NAC's jet case study (seed 002, Table 8).

Structure: φ, 1-4 linear layers applied to every set element with shared weights (its last
layer, ``phi<L-1>``, maps to the ``bottleneck`` width), an ``agg`` layer (mean or max over the
elements), then ρ, 1-4 linear layers whose last (``out``) has the task's output size. Every layer
samples a norm (batch or none) and an activation (ReLU, LeakyReLU or none); as in nac-opt, ρ's
last layer does too.
"""

from __future__ import annotations

import re
from typing import Any

import optuna

from hwloop.archs import Aggregate, ArchSpec, Linear
from hwloop.spaces._base import SearchSpace, choice_name, opt_choice

WIDTHS = (4, 8, 16, 32, 64)
BOTTLENECKS = (1, 2, 4, 8, 16, 32, 64)
NORMS = ("batch", "none")
ACTS = ("relu", "leaky_relu", "none")
AGGREGATORS = ("mean", "max")
MAX_PHI = 4
MAX_RHO = 4
_PHI = re.compile(r"^phi\d$")
_RHO = re.compile(r"^rho\d$")


class DeepSetsSpace(SearchSpace):
    name = "deepsets"

    def __init__(
        self,
        task: str,
        input_shape: tuple[int, ...],
        output_size: int,
        widths: tuple[int, ...] = WIDTHS,
        bottlenecks: tuple[int, ...] = BOTTLENECKS,
    ) -> None:
        if len(input_shape) != 2:
            raise ValueError(f"a Deep Sets space needs set inputs (N, F), got {input_shape}")
        self.task = task
        self.input_shape = input_shape
        self.output_size = output_size
        self.widths = widths
        self.bottlenecks = bottlenecks

    def _layer(self, trial: optuna.trial.BaseTrial, key: str, name: str, width: int) -> Linear:
        return Linear(
            name,
            width,
            norm=opt_choice(trial.suggest_categorical(f"{key}_norm", NORMS)),
            act=opt_choice(trial.suggest_categorical(f"{key}_act", ACTS)),
        )

    def sample(self, trial: optuna.trial.BaseTrial) -> ArchSpec:
        layers: list[Any] = []
        n_phi = trial.suggest_int("phi_layers", 1, MAX_PHI)
        for j in range(n_phi):
            last = j == n_phi - 1
            width = (
                trial.suggest_categorical("bottleneck", self.bottlenecks)
                if last
                else trial.suggest_categorical(f"phi{j}_width", self.widths)
            )
            layers.append(self._layer(trial, f"phi{j}", f"phi{j}", width))
        method = trial.suggest_categorical("aggregator", AGGREGATORS)
        layers.append(Aggregate("agg", "max" if method == "max" else "mean"))
        n_rho = trial.suggest_int("rho_layers", 1, MAX_RHO)
        for j in range(n_rho):
            last = j == n_rho - 1
            width = (
                self.output_size
                if last
                else trial.suggest_categorical(f"rho{j}_width", self.widths)
            )
            layers.append(self._layer(trial, f"rho{j}", "out" if last else f"rho{j}", width))
        return ArchSpec(tuple(self.input_shape), tuple(layers), task=self.task)

    def reason(self, spec: ArchSpec) -> str:
        return (
            f"arch {spec.name!r} is outside the {self.name} space (1-{MAX_PHI} phi and "
            f"1-{MAX_RHO} rho linear layers, widths in {self.widths}, bottleneck in "
            f"{self.bottlenecks}, norms {NORMS}, activations {ACTS}, aggregator {AGGREGATORS})"
        )

    def _params(self, spec: ArchSpec) -> dict[str, Any]:
        layers = list(spec.layers)
        agg = next(i for i, x in enumerate(layers) if isinstance(x, Aggregate))
        phi, rho = layers[:agg], layers[agg + 1 :]
        p: dict[str, Any] = {"phi_layers": len(phi), "rho_layers": len(rho)}
        aggregate = layers[agg]
        assert isinstance(aggregate, Aggregate)
        p["aggregator"] = aggregate.method
        for part, group, pattern in (("phi", phi, _PHI), ("rho", rho, _RHO)):
            for j, layer in enumerate(group):
                if not isinstance(layer, Linear):
                    raise ValueError(part)
                last = j == len(group) - 1
                if not (last and part == "rho") and not pattern.match(layer.name):
                    raise ValueError(layer.name)
                key = f"{part}{j}"
                if part == "phi" and last:
                    p["bottleneck"] = layer.out_features
                elif not last:
                    p[f"{key}_width"] = layer.out_features
                p[f"{key}_norm"] = choice_name(layer.norm)
                p[f"{key}_act"] = choice_name(layer.act)
        return p
