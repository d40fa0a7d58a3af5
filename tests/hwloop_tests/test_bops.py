"""BOPs against hand-computed values for small layers."""

from __future__ import annotations

import math

import pytest

from hwloop import HwloopError
from hwloop.archs import ArchSpec, Conv2d, ConvAttention, Flatten, LayerPrecision, Linear
from hwloop.archs import FixedPoint as FP
from hwloop.bops import attention_matmul_bops, compute_bops


def test_linear_by_hand() -> None:
    spec = ArchSpec((4,), (Linear("a", 2),))
    # m*n*(p*ba*bw + ba + bw + log2 n) = 2*4*(64 + 8 + 8 + 2) = 656
    rep = compute_bops(spec, bits=8)
    assert rep.total == 656
    assert rep.parameters == 10
    # 50% sparsity halves only the multiply term: 2*4*(32 + 18) = 400
    assert compute_bops(spec, bits=8, sparsity=0.5).total == 400


def test_conv_per_output_position() -> None:
    spec = ArchSpec((2, 5, 5), (Conv2d("c", 3, 3),))
    # H_out*W_out*m*n*k^2*(ba*bw + ba + bw + log2(n*k^2)) = 3*3*3*2*9*(16+4+4+log2 18)
    expected = 3 * 3 * 3 * 2 * 9 * (16 + 8 + math.log2(18))
    assert compute_bops(spec, bits=4).total == pytest.approx(expected)
    assert compute_bops(spec).parameters == 3 * 2 * 9 + 3


def test_attention_by_hand() -> None:
    spec = ArchSpec((2, 2, 2), (ConvAttention("att", 1),))
    b = 2
    n, c, d = 4, 2, 1  # tokens, channels, hidden
    qkv = 3 * (2 * 2 * d * c * (b * b + b + b + math.log2(c)))
    proj = 2 * 2 * c * d * (b * b + b + b + math.log2(d))
    scores = n * n * (d * b * b + (d - 1) * b)
    softmax = n * n * 1.5 * (b - 1) + n * (n - 1) + n * n
    values = n * d * (n * b * b + (n - 1) * b)
    assert attention_matmul_bops(n, d, b) == scores + softmax + values
    assert compute_bops(spec, bits=b).total == pytest.approx(qkv + proj + scores + softmax + values)
    assert compute_bops(spec).parameters == 3 * (c * d + d) + d * c + c


def test_norms_and_activations_are_free() -> None:
    plain = ArchSpec((1, 4, 4), (Conv2d("c", 2, 3), Flatten("f"), Linear("o", 2)))
    fancy = ArchSpec(
        (1, 4, 4),
        (
            Conv2d("c", 2, 3, norm="batch", act="gelu"),
            Flatten("f"),
            Linear("o", 2, norm="layer", act="relu"),
        ),
    )
    assert compute_bops(plain).total == compute_bops(fancy).total
    # parameters count the norms' affine weights: BN(2) = 4, LayerNorm(2) = 4
    assert compute_bops(fancy).parameters == compute_bops(plain).parameters + 8


def test_per_layer_precision_from_spec() -> None:
    spec = ArchSpec(
        (4,),
        (
            Linear("a", 4, precision=LayerPrecision(weight=FP(4, 1), result=FP(6, 2))),
            Linear("b", 2),
        ),
    )
    rep = compute_bops(spec, bits=8)
    a, b = rep.layers
    assert (a.weight_bits, a.act_bits) == (4, 8)  # weights from the spec, input at default
    assert (b.weight_bits, b.act_bits) == (8, 6)  # input is layer a's result precision
    assert a.bops == 4 * 4 * (8 * 4 + 8 + 4 + 2)
    assert b.bops == 2 * 4 * (6 * 8 + 6 + 8 + 2)


def test_bad_arguments() -> None:
    spec = ArchSpec((4,), (Linear("a", 2),))
    with pytest.raises(HwloopError, match="sparsity"):
        compute_bops(spec, sparsity=1.0)
    with pytest.raises(HwloopError, match="bits"):
        compute_bops(spec, bits=0)
