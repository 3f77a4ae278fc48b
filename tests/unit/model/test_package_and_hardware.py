"""Model package metadata (formats 1 and 2, the self-check probe) and the CPU description benchmarks print."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tweet_triage.errors import ModelError
from tweet_triage.model.hardware import parse_cpuinfo
from tweet_triage.model.package import MODEL_FILE, GraphSpec, PackageMeta, SelfCheckProbe, check_package, graph_file

CPUINFO = """processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Platinum 8480C
flags\t\t: fpu avx2 fma avx512f avx512bw avx512_vnni amx_tile amx_int8 amx_bf16 sse4_2

processor\t: 1
model name\t: Intel(R) Xeon(R) Platinum 8480C
flags\t\t: fpu
"""


def test_the_cpu_model_and_its_int8_flags_are_read_from_cpuinfo() -> None:
    cpu = parse_cpuinfo(CPUINFO, cores=2)
    assert cpu.model == "Intel(R) Xeon(R) Platinum 8480C"
    assert cpu.flags == ("avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "amx_tile", "amx_int8", "amx_bf16")
    assert cpu.int8_kernel == "AMX"
    assert "amx_int8" in cpu.describe()
    avx2_only = parse_cpuinfo("model name : Old\nflags : avx2 fma\n", cores=4)
    assert avx2_only.int8_kernel == "AVX2 (no VNNI)"


def meta(**overrides: object) -> PackageMeta:
    base = PackageMeta(labels=["disaster", "not_disaster"], positive_label="disaster", max_length=64, use_keyword=True)
    return PackageMeta(**{**base.__dict__, **overrides})


def test_a_format_2_package_round_trips_its_graphs(tmp_path: Path) -> None:
    spec = GraphSpec("per-token-int8", graph_file("per-token-int8"), {"format": "x"}, False, {"validation_f1": 0.8})
    meta(graphs=[spec], built_on={"model": "AMD EPYC"}).write(tmp_path)
    read = PackageMeta.read(tmp_path)
    assert read.graphs == [spec]
    assert read.graph("per-token-int8").portable is False
    with pytest.raises(ModelError, match="no graph 'fp32'"):
        read.graph("fp32")


def test_a_format_1_package_is_read_as_one_graph(tmp_path: Path) -> None:
    data = {
        "labels": ["a", "b"],
        "positive_label": "a",
        "max_length": 64,
        "use_keyword": True,
        "temperature": 1.5,
        "normalization_version": "1",
        "format_version": 1,
        "embedding_dim": 384,
        "quantization": {"scheme": "nbits8", "format": "MatMulNBits"},
        "lineage": {},
    }
    (tmp_path / "package.json").write_text(json.dumps(data))
    (tmp_path / "tokenizer").mkdir()
    (tmp_path / MODEL_FILE).write_bytes(b"")
    read = check_package(tmp_path, need_drift_reference=False)
    assert [(g.name, g.file) for g in read.graphs] == [("nbits8", MODEL_FILE)]


def test_a_package_missing_a_listed_graph_is_refused(tmp_path: Path) -> None:
    meta(graphs=[GraphSpec("fp32", graph_file("fp32"))]).write(tmp_path)
    (tmp_path / "tokenizer").mkdir()
    with pytest.raises(ModelError, match=r"missing graphs/fp32\.onnx"):
        check_package(tmp_path, need_drift_reference=False)


def test_the_self_check_probe_keeps_ragged_token_ids_and_each_graphs_logits(tmp_path: Path) -> None:
    probe = SelfCheckProbe([[101, 5, 102], [101, 102], [101, 9, 9, 9, 102]], {"a": np.ones((3, 2), np.float32)})
    probe.save(tmp_path)
    loaded = SelfCheckProbe.load(tmp_path)
    assert loaded is not None
    assert loaded.token_ids == probe.token_ids
    assert np.array_equal(loaded.logits["a"], probe.logits["a"])
    assert SelfCheckProbe.load(tmp_path / "elsewhere") is None
