"""The synthesis cache: every real synthesis run, never lost.

Empty for now: the synthesis issue fills it. It may import ``fpga_targets`` and nothing from
``hwloop`` or ``surrogates``.
"""

from __future__ import annotations
