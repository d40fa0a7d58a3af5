"""Hardware objectives: LUTs, DSPs and latency in ns of the candidate's design on --target,
predicted by the surrogate of --flow, or real where the loop synthesised that very design.
Their report columns are the hardware block every hardware search writes (search._report)."""

from __future__ import annotations

from hwloop.search.objectives import Objective, TrialOutcome, register


def _hardware(name: str) -> Objective:
    def value(o: TrialOutcome) -> float:
        assert o.hw is not None  # needs "hardware"
        return o.hw.objective(name)

    return Objective(
        name,
        {"lut": "LUTs", "dsp": "DSPs", "latency": "latency in ns"}[name]
        + " predicted by the surrogate of --flow for --target",
        value,
        rank={"lut": 60, "dsp": 70, "latency": 80}[name],
        needs=frozenset({"hardware"}),
    )


for _name in ("lut", "dsp", "latency"):
    register(_hardware(_name))
