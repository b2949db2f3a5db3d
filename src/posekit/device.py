"""Where a model runs, on which runtime and in which number format: ``auto`` / ``cpu`` / ``cuda[:N]``,
``auto`` / ``torch`` / ``onnxruntime`` / ``openvino`` and ``auto`` / ``fp32`` / ``bf16`` / ``fp16`` /
``int8``, each decided here once (predict, val and export call these) with one clear message."""

from __future__ import annotations

import importlib.util
import logging
import os
from typing import TYPE_CHECKING, Literal, NamedTuple

from posekit.errors import ConfigError, ModelError

if TYPE_CHECKING:  # torch is imported when used: the settings (and the CLI's --help) need only the names
    import torch

logger = logging.getLogger(__name__)

Precision = Literal["fp32", "bf16", "fp16", "int8"]
PrecisionSetting = Literal["auto", "fp32", "bf16", "fp16", "int8"]
Runtime = Literal["torch", "onnxruntime", "openvino"]
RuntimeSetting = Literal["auto", "torch", "onnxruntime", "openvino"]
EXPORT_EXTRA = "pip install 'posekit[export]'"
OPENVINO_EXTRA = "pip install 'posekit[openvino]'"


def torch_dtype(precision: Precision) -> torch.dtype:
    """The torch dtype of a floating-point precision (int8 runs on ONNX Runtime, not in torch)."""
    import torch

    return {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """``"auto"``/None -> CUDA when available, else CPU; anything else as torch reads it. Under
    ``torchrun``, a GPU without an index is this process's own (``cuda:LOCAL_RANK``)."""
    import torch

    if device is None or str(device) == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        resolved = torch.device(device)
    except RuntimeError:
        raise ConfigError(f"unknown device {device!r}; use 'auto', 'cpu', 'cuda' or 'cuda:N'") from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {device!r} was asked for but no CUDA GPU is available; use --device cpu")
    if resolved.type == "cuda" and resolved.index is None and "LOCAL_RANK" in os.environ:
        resolved = torch.device("cuda", int(os.environ["LOCAL_RANK"]))
    return resolved


def loader_workers(device: str | torch.device, processes: int = 1) -> int:
    """Data loading processes of each of ``processes`` processes on ``device`` (training and evaluation
    decide it here): on a GPU up to 8 of the process's share of the cores; on a CPU the model's threads
    already use the cores, so a quarter of its share (2 cores: none, the loading runs in line)."""
    import torch

    cpus = (os.cpu_count() or 1) // max(1, processes)
    return min(8, cpus) if torch.device(device).type == "cuda" else cpus // 4


def cpu_has_fast_bf16() -> bool:
    """Whether this CPU multiplies bf16 in hardware (AMX tiles or AVX512-BF16). Elsewhere torch emulates
    bf16 and it is several times slower than fp32 (7x for ViTPose-S on an AVX2-only EPYC, measured)."""
    import torch

    return bool(torch.cpu._is_amx_tile_supported() or torch.cpu._is_avx512_bf16_supported())


def cpu_has_vnni() -> bool:
    """Whether this CPU has 8-bit dot-product instructions (AVX512-VNNI / AVX-VNNI, or AMX tiles), which run
    int8 matrix products at several times the fp32 rate."""
    import torch

    return bool(torch.cpu._is_vnni_supported() or torch.cpu._is_amx_tile_supported())


def openvino_installed(int8: bool = False) -> bool:
    """Whether OpenVINO (and, for ``int8``, NNCF, its post-training quantiser) can be imported."""
    names = ("openvino", "nncf") if int8 else ("openvino",)
    return all(importlib.util.find_spec(name) is not None for name in names)


class Backend(NamedTuple):
    """A runtime and a precision; ``reason`` says why ``auto`` chose them (empty when both were asked for)."""

    runtime: Runtime
    precision: Precision
    reason: str = ""


def resolve_backend(runtime: str | None, precision: str | None, device: torch.device) -> Backend:
    """The runtime and precision to run a pose model in on ``device``.

    ``auto`` picks the fastest pair whose AP stays within 1 point of fp32 (measured with
    ``benchmarks/cpu_limit.py``; ViTPose-S at batch 3 on 2 cores of an AVX512-BF16/VNNI EPYC: OpenVINO int8
    52.6 crops/s, OpenVINO bf16 34.9, PyTorch bf16 23.2, OpenVINO fp32 18.9, PyTorch fp32 9.9). On a CPU
    with VNNI or bf16 hardware with ``posekit[openvino]`` installed the runtime is OpenVINO (for every
    precision but fp16) and the precision int8 (NNCF; VNNI CPUs), else bf16 (bf16 hardware); without
    OpenVINO, PyTorch as before (int8: ONNX Runtime). Elsewhere (AVX2-only CPUs, GPUs) nothing changes:
    PyTorch in what :func:`resolve_precision` picks (OpenVINO was not measured faster there)."""
    import torch

    device = torch.device(device)
    runtime, precision = runtime or "auto", precision or "auto"
    if runtime not in ("auto", "torch", "onnxruntime", "openvino"):
        raise ConfigError(f"--runtime {runtime!r} is unknown; choose auto, torch, onnxruntime or openvino")
    chose = "auto" in (runtime, precision)
    if runtime == "auto":
        runtime = _fastest_runtime(precision, device)
    if runtime == "openvino":
        if device.type != "cpu":
            raise ConfigError("--runtime openvino runs on the CPU; on a GPU use --runtime torch")
        if not openvino_installed():
            raise ModelError(f"--runtime openvino needs OpenVINO, which is not installed: {OPENVINO_EXTRA}")
        if precision == "auto":
            precision = "int8" if cpu_has_vnni() and openvino_installed(int8=True) else "fp32"
            precision = "bf16" if precision == "fp32" and cpu_has_fast_bf16() else precision
        if precision == "fp16":
            raise ConfigError("--runtime openvino runs fp32, bf16 or int8 on the CPU; use one of those")
        if precision == "int8" and not openvino_installed(int8=True):
            raise ModelError(
                f"--precision int8 on OpenVINO quantises with NNCF, not installed: {OPENVINO_EXTRA}"
            )
        if precision == "bf16" and not cpu_has_fast_bf16():
            logger.warning(
                "this CPU has no bf16 hardware (AMX / AVX512-BF16): OpenVINO runs bf16 as fp32 here"
            )
        resolved = resolve_precision(precision, device, runtime="openvino")
    elif runtime == "onnxruntime":
        resolved = resolve_precision(precision, device, runtime="onnx")
    else:
        resolved = resolve_precision(precision, device)
        if resolved == "int8":
            raise ConfigError("--precision int8 runs on OpenVINO or ONNX Runtime: drop --runtime torch")
    return Backend(runtime, resolved, _hardware(device, runtime) if chose else "")  # type: ignore[arg-type]


def _fastest_runtime(precision: str, device: torch.device) -> Runtime:
    """The runtime ``auto`` means for ``precision`` on ``device`` (see :func:`resolve_backend`)."""
    if device.type != "cpu":
        return "torch"
    fast_cpu = cpu_has_vnni() or cpu_has_fast_bf16()
    if precision != "fp16" and fast_cpu and openvino_installed(int8=precision == "int8"):
        return "openvino"
    return "onnxruntime" if precision == "int8" else "torch"


def _hardware(device: torch.device, runtime: str) -> str:
    """What ``auto`` decided from, for the banner: the CPU's relevant instructions, and the extra that
    would make it faster when it is missing."""
    if device.type != "cpu":
        return "auto: GPU"
    has = [name for name, present in (("VNNI", cpu_has_vnni()), ("bf16", cpu_has_fast_bf16())) if present]
    text = "auto: CPU with " + (" and ".join(has) if has else "neither VNNI nor bf16 hardware")
    if has and not openvino_installed():
        text += f"; faster with OpenVINO: {OPENVINO_EXTRA}"
    return text


def resolve_precision(
    precision: str | None, device: torch.device, runtime: Literal["torch", "onnx", "openvino"] = "torch"
) -> Precision:
    """The number format to run in. ``auto``/None: for PyTorch, bf16 on a CPU with AMX/AVX512-BF16 and on
    GPUs that support it, fp16 on other GPUs, else fp32; for an ONNX export, fp32 (the format every
    runtime runs fast; ask for fp16 or int8). int8 is ONNX Runtime's static quantisation and needs
    onnxruntime. Formats that run but run slowly here are allowed with a warning; impossible ones raise
    one :class:`ConfigError`."""
    import torch

    device = torch.device(device)
    if precision is None or precision == "auto":
        if runtime in ("onnx", "openvino"):
            return "fp32"
        if device.type == "cuda":
            return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        return "bf16" if device.type == "cpu" and cpu_has_fast_bf16() else "fp32"
    if precision not in ("fp32", "bf16", "fp16", "int8"):
        raise ConfigError(f"--precision {precision!r} is unknown; choose auto, fp32, bf16, fp16 or int8")
    if precision == "int8":
        if runtime != "openvino" and importlib.util.find_spec("onnxruntime") is None:
            raise ModelError(
                "--precision int8 quantises the model with ONNX Runtime, which is not installed: "
                + EXPORT_EXTRA
            )
        if device.type != "cpu":
            raise ConfigError(
                "--precision int8 runs on the CPU (ONNX Runtime's quantised kernels); "
                "on a GPU use bf16 or fp16"
            )
    elif precision == "bf16" and runtime == "onnx":
        raise ConfigError("ONNX Runtime has no bf16 kernels for most operators; export fp32, fp16 or int8")
    elif precision == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise ConfigError(f"this GPU ({torch.cuda.get_device_name(device)}) has no bf16; use fp16 or fp32")
    elif precision == "bf16" and device.type == "cpu" and not cpu_has_fast_bf16():
        logger.warning(
            "this CPU has no bf16 hardware (AMX / AVX512-BF16): bf16 runs several times slower than fp32"
        )
    elif precision == "fp16" and device.type == "cpu" and runtime == "torch":
        logger.warning("fp16 on the CPU is emulated by PyTorch and slow; fp32 (or int8) is faster here")
    return precision  # type: ignore[return-value]
