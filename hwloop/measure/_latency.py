"""Measured latency (and energy) of a torch model at a fixed batch on the machine at hand.

Backends (``BACKENDS``): PyTorch eager on the CPU (``torch``), ONNX Runtime on the CPU in float32
(``ort``) and with static INT8 QDQ quantisation calibrated on real inputs (``ort-int8``, the
stand-in for TensorRT INT8 engines), and on an NVIDIA GPU when there is one (``torch-cuda``;
``ort-int8-cuda`` where ONNX Runtime's CUDA execution provider is installed).

Every run is timed with ``time.perf_counter_ns`` after a warm-up; the result keeps the median
and the spread (p10, p90, min, max, mean, std) so a search can record the noise with each
trial. Energy comes only from a hardware counter (``hwloop.measure._energy``).
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import math
import os
import platform
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from torch import nn

from hwloop import HwloopError
from hwloop.measure._backends import BACKENDS, check_backend, is_cuda
from hwloop.measure._energy import EnergyCounter, energy_counter, energy_unavailable_reason

log = logging.getLogger(__name__)

BATCH = 32
MIN_BLOCK_S = 0.2  # an energy block runs at least this long (and 20x the counter's resolution)


@dataclass(frozen=True)
class LatencyMeasurement:
    """Latency of one batch (milliseconds) and, when asked for, its energy (millijoules).

    ``median_ms`` is the objective; ``p10_ms``/``p90_ms`` (and ``spread_ms``, their difference)
    the noise to record with it. ``max_abs_diff`` is the largest absolute difference between
    this backend's outputs and PyTorch eager's (float32, CPU) on the same batch: INT8 differs a
    little, and this says how much. ``energy_mj`` is the median energy of one batch over
    ``energy_blocks_mj`` (one value per block of ``energy_runs`` runs),
    ``energy_spread_mj`` their p90 - p10, ``power_w`` the median power of the blocks;
    whole-device energy (idle power included), ``counter`` names the counter. ``load_avg`` is
    the machine's 1-minute load average before the runs: other work on the machine is the
    largest source of noise.
    """

    backend: str
    device: str
    batch: int
    warmup: int
    repeats: int
    threads: int
    median_ms: float
    p10_ms: float
    p90_ms: float
    min_ms: float
    max_ms: float
    mean_ms: float
    std_ms: float
    max_abs_diff: float
    energy_mj: float | None = None
    energy_spread_mj: float | None = None
    energy_blocks_mj: tuple[float, ...] = ()
    energy_runs: tuple[int, ...] = ()
    power_w: float | None = None
    counter: str | None = None
    load_avg: float | None = None

    @property
    def spread_ms(self) -> float:
        """p90 - p10 of the runs."""
        return self.p90_ms - self.p10_ms

    @property
    def per_sample_ms(self) -> float:
        """Median latency of a batch divided by the batch size (a throughput, not a latency)."""
        return self.median_ms / self.batch

    def to_json(self) -> dict[str, Any]:
        doc = dataclasses.asdict(self)
        doc["energy_blocks_mj"] = list(self.energy_blocks_mj)
        doc["energy_runs"] = list(self.energy_runs)
        doc["spread_ms"] = self.spread_ms
        doc["per_sample_ms"] = self.per_sample_ms
        return doc


def available_backends() -> tuple[str, ...]:
    """The backends that can run here (``torch``, ``ort``, ``ort-int8`` always)."""
    return tuple(b for b in BACKENDS if _unavailable(b) is None)


def _unavailable(backend: str) -> str | None:
    if is_cuda(backend) and not torch.cuda.is_available():
        return f"backend {backend!r} needs an NVIDIA GPU, and torch sees no CUDA device"
    if backend == "ort-int8-cuda":
        import onnxruntime as ort

        if "CUDAExecutionProvider" not in ort.get_available_providers():
            return (
                f"backend {backend!r} needs ONNX Runtime's CUDAExecutionProvider "
                "(pip install onnxruntime-gpu)"
            )
    return None


def cpu_description() -> str:
    """The CPU's model name from /proc/cpuinfo (or platform), with its logical CPU count."""
    name = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("model name", "Model", "Hardware"):
                name = value.strip()
                break
    except OSError:
        pass
    name = name or platform.processor() or platform.machine() or "unknown CPU"
    return f"{name} ({os.cpu_count()} logical CPUs)"


def _load_average() -> float | None:
    try:
        return float(os.getloadavg()[0])
    except (AttributeError, OSError):
        return None


def _device(backend: str) -> str:
    if is_cuda(backend):
        return str(torch.cuda.get_device_name(torch.cuda.current_device()))
    return cpu_description()


def fixed_batch(examples: NDArray[Any] | torch.Tensor, batch: int = BATCH) -> NDArray[np.float32]:
    """The first ``batch`` examples as float32, repeated in order when there are fewer."""
    x = examples.detach().cpu().numpy() if isinstance(examples, torch.Tensor) else examples
    x = np.asarray(x, dtype=np.float32)
    if x.ndim < 2 or x.shape[0] == 0:
        raise HwloopError(
            f"example inputs must be a batch (N, ...) with N >= 1, got shape {x.shape}"
        )
    return np.ascontiguousarray(x[np.arange(batch) % x.shape[0]])


def calibration_batches(
    samples: NDArray[Any] | torch.Tensor, batch: int = BATCH
) -> list[NDArray[np.float32]]:
    """``samples`` in batches of exactly ``batch`` (the last one topped up from the start)."""
    n = math.ceil(int(samples.shape[0]) / batch) if samples.shape[0] else 1
    x = fixed_batch(samples, n * batch)
    return [np.ascontiguousarray(x[i * batch : (i + 1) * batch]) for i in range(n)]


def export_onnx(model: nn.Module, example: torch.Tensor, path: Path | str) -> Path:
    """Export ``model`` (eval mode, on the CPU) for the fixed input shape of ``example``.

    Uses torch's default (dynamo) exporter and falls back to the TorchScript one when that
    fails. The graph has one input ``x`` and one output ``y``.
    """
    path = Path(path)
    model = model.eval()
    try:
        torch.onnx.export(
            model,
            (example,),
            str(path),
            dynamo=True,
            verbose=False,
            external_data=False,
            input_names=["x"],
            output_names=["y"],
        )
    except Exception as exc:  # the new exporter does not take everything yet
        log.warning("dynamo ONNX export failed (%s); trying the TorchScript exporter", exc)
        try:
            torch.onnx.export(
                model, (example,), str(path), dynamo=False, input_names=["x"], output_names=["y"]
            )
        except Exception as exc2:
            raise HwloopError(f"cannot export the model to ONNX: {exc2}") from exc2
    return path


def quantize_int8(
    fp32_path: Path | str,
    int8_path: Path | str,
    calib_batches: Iterable[NDArray[np.float32]],
    per_channel: bool = True,
) -> Path:
    """Static INT8 quantisation (QDQ, uint8 activations, int8 weights, per-channel weights by
    default, min-max calibration) of an ONNX float model on the given input batches."""
    import onnx
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    fp32_path, int8_path = Path(fp32_path), Path(int8_path)
    batches = list(calib_batches)
    if not batches:
        raise HwloopError("INT8 calibration needs at least one batch of inputs")
    source = int8_path.with_name(int8_path.stem + ".pre.onnx")
    try:  # shape inference + graph clean-up, as ONNX Runtime recommends before quantising
        quant_pre_process(str(fp32_path), str(source))
    except Exception as exc:
        log.warning("ONNX quantisation pre-processing failed (%s); quantising as exported", exc)
        source = fp32_path
    name = onnx.load(str(source), load_external_data=False).graph.input[0].name

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self._it = iter(batches)

        def get_next(self) -> dict[str, NDArray[np.float32]] | None:
            b = next(self._it, None)
            return None if b is None else {name: b}

    try:
        quantize_static(
            str(source),
            str(int8_path),
            Reader(),
            quant_format=QuantFormat.QDQ,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            per_channel=per_channel,
        )
    except Exception as exc:
        raise HwloopError(f"INT8 quantisation failed: {exc}") from exc
    return int8_path


def _ort_session(path: Path, threads: int, cuda: bool) -> Any:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.log_severity_level = 3  # errors only
    providers = ["CUDAExecutionProvider", "CPUExecutionProvider"] if cuda else None
    return ort.InferenceSession(str(path), opts, providers=providers or ["CPUExecutionProvider"])


def _first_output(out: Any) -> torch.Tensor:
    if isinstance(out, torch.Tensor):
        return out
    if isinstance(out, list | tuple) and out and isinstance(out[0], torch.Tensor):
        return out[0]
    raise HwloopError(f"the model must return a tensor, got {type(out).__name__}")


def _time_runs(run: Callable[[], object], warmup: int, repeats: int) -> NDArray[np.float64]:
    for _ in range(warmup):
        run()
    times = np.empty(repeats, dtype=np.float64)
    for i in range(repeats):
        t0 = time.perf_counter_ns()
        run()
        times[i] = (time.perf_counter_ns() - t0) / 1e6
    return times


def _energy_blocks(
    run: Callable[[], object], counter: EnergyCounter, repeats: int, blocks: int
) -> tuple[tuple[float, ...], tuple[int, ...], float]:
    """Per-batch energy of ``blocks`` blocks, their numbers of runs, and the median power (W).

    A block runs at least ``repeats`` times and until it has lasted ``MIN_BLOCK_S`` (20 times
    the counter's resolution when that is longer), so the counter's granularity stays small.
    """
    block_s = max(MIN_BLOCK_S, 20 * counter.resolution_s)
    per_run, power, counts = [], [], []
    for _ in range(blocks):
        runs = 0
        t0, e0 = time.perf_counter(), counter.read_mj()
        while runs < repeats or time.perf_counter() - t0 < block_s:
            run()
            runs += 1
        e1, t1 = counter.read_mj(), time.perf_counter()
        if e1 <= e0:
            log.warning("energy counter %s did not advance over %.3f s", counter.name, t1 - t0)
        per_run.append((e1 - e0) / runs)
        power.append((e1 - e0) / 1000.0 / max(t1 - t0, 1e-9))
        counts.append(runs)
    return tuple(per_run), tuple(counts), float(np.median(power))


def measure_latency(
    model: nn.Module,
    example_inputs: NDArray[Any] | torch.Tensor,
    backend: str = "torch",
    batch: int = BATCH,
    warmup: int = 10,
    repeats: int = 50,
    threads: int | None = None,
    calib: NDArray[Any] | torch.Tensor | None = None,
    energy: bool = False,
    energy_blocks: int = 5,
    counter: EnergyCounter | None = None,
) -> LatencyMeasurement:
    """Run ``model`` on a fixed batch of ``batch`` real inputs on ``backend`` and time it.

    ``example_inputs`` (N, *input_shape): the first ``batch`` of them are the batch (repeated
    when N < batch). ``threads``: intra-op threads of torch and ONNX Runtime (default: torch's
    current setting, ``torch.get_num_threads()``); set for the measurement, restored after and
    recorded in the result. ``calib``: the INT8 calibration inputs (64-256 real training
    inputs are plenty; default: ``example_inputs``). The model is copied, never changed; it
    runs in eval mode under ``torch.inference_mode``.

    ``energy``: also measure energy per batch from the hardware counter (RAPL for the CPU
    backends, NVML for the CUDA ones), in ``energy_blocks`` blocks of at least 0.2 s (2 s on
    NVML) each. Where no counter can be read this raises ``HwloopError`` before anything runs.
    ``counter``: measure energy with this counter instead (another GPU's ``NvmlCounter``, a
    ``RaplCounter`` on another root); implies ``energy``.
    """
    check_backend(backend)
    if batch < 1 or repeats < 1 or warmup < 0 or energy_blocks < 1:
        raise HwloopError(
            f"need batch >= 1, repeats >= 1, warmup >= 0, energy_blocks >= 1; got {batch}, "
            f"{repeats}, {warmup}, {energy_blocks}"
        )
    if threads is not None and threads < 1:
        raise HwloopError(f"threads must be at least 1, got {threads}")
    reason = _unavailable(backend)
    if reason is not None:
        raise HwloopError(reason)
    if energy and counter is None:
        why = energy_unavailable_reason(backend)
        if why is not None:
            raise HwloopError(why)
        counter = energy_counter(backend)

    load = _load_average()
    x_np = fixed_batch(example_inputs, batch)
    x = torch.from_numpy(x_np)
    model = copy.deepcopy(model).cpu().eval()
    previous = torch.get_num_threads()
    n_threads = threads or previous
    torch.set_num_threads(n_threads)
    if load is not None and load + n_threads > (os.cpu_count() or 1) + 1:
        log.warning(
            "load average %.1f on %d CPUs: %d more threads oversubscribe them and the "
            "latency will be noisy (threads=1 is steadier on a busy machine)",
            load,
            os.cpu_count() or 1,
            n_threads,
        )
    try:
        with torch.inference_mode():
            reference = _first_output(model(x)).float().numpy()
            with tempfile.TemporaryDirectory(prefix="hwloop-measure-") as tmp:
                run, output = _runner(backend, model, x, calib, batch, n_threads, Path(tmp))
                diff = float(np.max(np.abs(output() - reference)))
                times = _time_runs(run, warmup, repeats)
                median = float(np.median(times))
                blocks: tuple[float, ...] = ()
                runs: tuple[int, ...] = ()
                power = None
                if counter is not None:
                    blocks, runs, power = _energy_blocks(run, counter, repeats, energy_blocks)
    finally:
        torch.set_num_threads(previous)
    p10, p90 = (float(v) for v in np.percentile(times, [10, 90]))
    result = LatencyMeasurement(
        backend=backend,
        device=_device(backend),
        batch=batch,
        warmup=warmup,
        repeats=repeats,
        threads=n_threads,
        median_ms=median,
        p10_ms=p10,
        p90_ms=p90,
        min_ms=float(times.min()),
        max_ms=float(times.max()),
        mean_ms=float(times.mean()),
        std_ms=float(times.std(ddof=1)) if repeats > 1 else 0.0,
        max_abs_diff=diff,
        energy_mj=float(np.median(blocks)) if blocks else None,
        energy_spread_mj=float(np.subtract(*np.percentile(blocks, [90, 10]))) if blocks else None,
        energy_blocks_mj=blocks,
        energy_runs=runs,
        power_w=power,
        counter=counter.name if counter is not None else None,
        load_avg=load,
    )
    log.info(
        "%s on %s, batch %d: median %.3f ms (p10 %.3f, p90 %.3f) over %d runs%s",
        backend,
        result.device,
        batch,
        median,
        p10,
        p90,
        repeats,
        f", {result.energy_mj:.3f} mJ/batch ({result.counter})" if blocks else "",
    )
    return result


def _runner(
    backend: str,
    model: nn.Module,
    x: torch.Tensor,
    calib: NDArray[Any] | torch.Tensor | None,
    batch: int,
    threads: int,
    tmp: Path,
) -> tuple[Callable[[], object], Callable[[], NDArray[np.float32]]]:
    """``run()`` (one timed batch) and ``output()`` (the outputs, float32 numpy on the CPU)."""
    if backend == "torch":

        def run_torch() -> object:
            return model(x)

        return run_torch, lambda: _first_output(model(x)).float().numpy()

    if backend == "torch-cuda":
        gpu = model.cuda()  # the caller's model was copied
        xg = x.cuda()

        def run_cuda() -> object:
            out = gpu(xg)
            torch.cuda.synchronize()
            return out

        return run_cuda, lambda: _first_output(gpu(xg)).float().cpu().numpy()

    path = export_onnx(model, x, tmp / "model.onnx")
    if backend != "ort":
        samples = calib if calib is not None else x
        if calib is None:
            log.info("no calibration inputs given: calibrating INT8 on the measured batch")
        path = quantize_int8(path, tmp / "model.int8.onnx", calibration_batches(samples, batch))
    sess = _ort_session(path, threads, cuda=is_cuda(backend))
    feed = {sess.get_inputs()[0].name: x.numpy()}

    def run_ort() -> object:
        return sess.run(None, feed)

    return run_ort, lambda: np.asarray(sess.run(None, feed)[0], dtype=np.float32)
