"""Surrogate models of synthesis results (XGBoost). Never imports torch.

Empty for now: the surrogate issue fills it. It may import ``fpga_targets`` and nothing from
``hwloop``.
"""

from __future__ import annotations
