"""QONNX export of a quantised model, hls4ml conversion, and the bit-exactness check.

The path is hls4ml's documented one for Brevitas models: ``export_qonnx`` -> qonnx cleanup ->
channels-last -> Gemm to MatMul -> cleanup -> ``convert_from_onnx_model`` (Vitis backend). Every
scale is a power of two, so hls4ml turns each Quant node into an ap_fixed type and the C++
emulation (``compile()`` + ``predict()``) computes exactly what Brevitas computes, given inputs
already on the input quantiser's grid (what the hardware receives).
"""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hwloop import HwloopError
from hwloop.local._quant import QuantSpecModule

log = logging.getLogger(__name__)

HLS4ML_UNSUPPORTED_ACTS = {"gelu": "hls4ml's ONNX frontend has no GELU"}


def hls4ml_unsupported(qmodel: QuantSpecModule) -> str | None:
    """Why hls4ml cannot convert this quantised model (None: it can)."""
    for layer in qmodel.spec.layers:
        act = getattr(layer, "act", None)
        if act in HLS4ML_UNSUPPORTED_ACTS:
            return f"layer {layer.name}: {HLS4ML_UNSUPPORTED_ACTS[act]}"
        if getattr(layer, "norm", None) == "layer":
            return f"layer {layer.name}: hls4ml's ONNX frontend has no layer norm"
    return None


def export_qonnx(qmodel: QuantSpecModule, path: Path) -> Path:
    """Write ``qmodel`` as a QONNX graph (Brevitas' exporter) to ``path``."""
    onnx_log = logging.getLogger("torch.onnx")
    level = onnx_log.level
    onnx_log.setLevel(logging.ERROR)  # "torchvision is not installed. Skipping ..." x4
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _export_quiet(qmodel, path)
    finally:
        onnx_log.setLevel(level)
    return path


def _export_quiet(qmodel: QuantSpecModule, path: Path) -> None:
    from brevitas.export import export_qonnx as _export

    qmodel.eval()
    path.parent.mkdir(parents=True, exist_ok=True)
    example = torch.zeros((1, *qmodel.spec.input_shape))
    _export(qmodel, example, export_path=str(path), verbose=False)


def _clean(path: Path) -> Any:
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.transformation.channels_last import ConvertToChannelsLastAndClean
    from qonnx.transformation.gemm_to_matmul import GemmToMatMul
    from qonnx.util.cleanup import cleanup_model

    with warnings.catch_warnings():  # "GemmToMatMul only offers explicit support for ... 9"
        warnings.simplefilter("ignore", UserWarning)
        model = cleanup_model(ModelWrapper(str(path)))
        if len(model.get_tensor_shape(model.graph.input[0].name)) == 4:
            model = model.transform(ConvertToChannelsLastAndClean(make_input_channels_last=True))
        model = model.transform(GemmToMatMul())
        return cleanup_model(model)


def convert_qonnx(
    path: Path, output_dir: Path, part: str = "xcvu13p-flga2577-2-e", clock_ns: float = 5.0
) -> Any:
    """The hls4ml model (Vitis backend, io_parallel) of the QONNX file ``path``."""
    import hls4ml

    model = _clean(path)
    cfg = hls4ml.utils.config.config_from_onnx_model(
        model, granularity="name", backend="Vitis", default_precision="fixed<32,16>"
    )
    for name, layer in cfg["LayerName"].items():
        if name.startswith("LeakyRelu"):  # alpha * x exactly (not truncated) before its Quant
            layer["Precision"]["result"] = "fixed<64,24>"
    return hls4ml.converters.convert_from_onnx_model(
        model,
        output_dir=str(output_dir),
        backend="Vitis",
        io_type="io_parallel",
        hls_config=cfg,
        part=part,
        clock_period=clock_ns,
    )


@dataclass(frozen=True)
class BitExactness:
    samples: int
    outputs_equal: int
    max_abs_diff: float

    @property
    def exact(self) -> bool:
        return self.outputs_equal == self.samples

    def to_json(self) -> dict[str, Any]:
        return {**self.__dict__, "exact": self.exact}


def quantised_inputs(qmodel: QuantSpecModule, x: torch.Tensor) -> torch.Tensor:
    """``x`` on the input quantiser's grid (the fixed-point values the hardware receives)."""
    qmodel.eval()
    with torch.no_grad():
        return qmodel.input_quant(x).value


def compare_with_hls4ml(
    qmodel: QuantSpecModule, x: torch.Tensor, workdir: Path, onnx_path: Path | None = None
) -> BitExactness:
    """Export, convert, compile hls4ml's C++ emulation, and compare it with ``qmodel`` on ``x``
    sample by sample (every output bit-identical counts as equal)."""
    reason = hls4ml_unsupported(qmodel)
    if reason:
        raise HwloopError(f"hls4ml cannot convert this model: {reason}")
    onnx_path = onnx_path or export_qonnx(qmodel, workdir / "model.qonnx.onnx")
    chatter = io.StringIO()  # hls4ml prints its topology ("Layer name: ...") on conversion
    with contextlib.redirect_stdout(chatter):
        hls_model = convert_qonnx(onnx_path, workdir / "hls4ml")
        hls_model.compile()
    log.debug("hls4ml: %s", chatter.getvalue())
    xq = quantised_inputs(qmodel, x)
    with torch.no_grad():
        ref = qmodel(xq).double().numpy().reshape(len(x), -1)
    xin = xq.numpy()
    if xin.ndim == 4:
        xin = xin.transpose(0, 2, 3, 1)
    got = np.asarray(hls_model.predict(np.ascontiguousarray(xin)), np.float64).reshape(ref.shape)
    equal = int(np.all(got == ref, axis=1).sum())
    return BitExactness(len(x), equal, float(np.abs(got - ref).max()))
