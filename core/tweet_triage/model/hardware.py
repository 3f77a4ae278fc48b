"""The CPU a model runs on: model name and the instruction-set flags that decide which int8 kernels are fast.

Speed claims in this project are only meaningful with the CPU they were measured on: ONNX Runtime's u8s8 GEMM runs
on AMX tiles, AVX-512 VNNI, AVX-VNNI or plain AVX2 (where 8-bit products are summed in saturating 16-bit pairs) —
the same graph can be 3× faster on one host than on another. Every benchmark, the quantization study, the MLflow
run and the predictor's self-check print or record :func:`cpu_info`.
"""

from __future__ import annotations

import os
import platform
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from typing import Any

# The flags that change which ONNX Runtime (MLAS) GEMM kernels run, in the order people look for them.
RELEVANT_FLAGS = (
    "avx2",
    "fma",
    "avx512f",
    "avx512bw",
    "avx512_vnni",
    "avx_vnni",
    "avx512_bf16",
    "amx_tile",
    "amx_int8",
    "amx_bf16",
)
_CPUINFO = Path("/proc/cpuinfo")


@dataclass(frozen=True)
class CpuInfo:
    model: str
    flags: tuple[str, ...]  # the relevant flags this CPU has, in RELEVANT_FLAGS order
    cores: int  # cores this process may use

    @property
    def int8_kernel(self) -> str:
        """The fastest u8s8 GEMM path ONNX Runtime can take here (what int8 speed mostly depends on)."""
        if "amx_int8" in self.flags:
            return "AMX"
        if "avx512_vnni" in self.flags:
            return "AVX-512 VNNI"
        if "avx_vnni" in self.flags:
            return "AVX-VNNI"
        if "avx2" in self.flags:
            return "AVX2 (no VNNI)"
        return "baseline"

    def describe(self) -> str:
        flags = " ".join(self.flags) or "none of " + " ".join(RELEVANT_FLAGS)
        return f"{self.model} ({self.cores} cores; int8 path {self.int8_kernel}; flags: {flags})"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "flags": list(self.flags), "int8_kernel": self.int8_kernel}


def parse_cpuinfo(text: str, cores: int) -> CpuInfo:
    """:class:`CpuInfo` from the text of ``/proc/cpuinfo`` (the first processor's block)."""
    model = "unknown CPU"
    flags: set[str] = set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name" and model == "unknown CPU":
            model = " ".join(value.split())
        elif key in ("flags", "Features") and not flags:
            flags = set(value.split())
    return CpuInfo(model=model, flags=tuple(f for f in RELEVANT_FLAGS if f in flags), cores=cores)


@cache
def cpu_info() -> CpuInfo:
    """This machine's CPU (read once per process)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    try:
        return parse_cpuinfo(_CPUINFO.read_text(encoding="utf-8", errors="replace"), cores)
    except OSError:
        return CpuInfo(model=platform.processor() or platform.machine() or "unknown CPU", flags=(), cores=cores)
