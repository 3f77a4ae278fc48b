"""Building model packages: export, the quantization study, and the package that ships.

Both `triage train` and the Azure ML export stage call :func:`build_packages`, so both paths ship the same layout,
graphs, study and self-check probe.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt

from tweet_triage.model.language import training_languages
from tweet_triage.model.operating_point import Policy, choose
from tweet_triage.model.package import (
    GRAPHS_DIR,
    TOKENIZER_DIR,
    GraphSpec,
    PackageMeta,
    SelfCheckProbe,
    graph_file,
    with_graphs,
)
from tweet_triage.model.predictor import Predictor
from tweet_triage.training import export
from tweet_triage.training.quantization.measure import Tweets
from tweet_triage.training.quantization.rule import NoEligibleGraph
from tweet_triage.training.quantization.schemes import REFERENCE
from tweet_triage.training.quantization.study import StudyConfig, StudyReport, run_study

STAGING_DIR, PACKAGE_DIR = "staging", "package"
STUDY_FILE = "quantization_study.json"  # the study's table, CPU and choice, inside the package
PROBE_TWEETS = 64  # the self-check's probe: enough to time a graph, small enough to add ~0.5 s to a model load


def staging_package(folder: Path, fp32_onnx: Path, hf_dir: Path, meta: PackageMeta) -> PackageMeta:
    """A package holding only the fp32 graph (``graphs/fp32.onnx``), the tokenizer and the metadata."""
    (folder / GRAPHS_DIR).mkdir(parents=True, exist_ok=True)
    shutil.copyfile(fp32_onnx, folder / graph_file(REFERENCE))
    if not (folder / TOKENIZER_DIR).exists():
        export.copy_tokenizer(hf_dir, folder / TOKENIZER_DIR)
    staged = with_graphs(meta, [GraphSpec(REFERENCE, graph_file(REFERENCE), {"format": "fp32"})], meta.built_on)
    staged.write(folder)
    return staged


def shipping_package(
    folder: Path,
    staging: Path,
    study: StudyReport,
    meta: PackageMeta,
    probe_texts: Sequence[str],
    probe_keywords: Sequence[str | None],
    *,
    threads: int = 2,
) -> PackageMeta:
    """The package that ships: the graphs the study's selection names (chosen first), each with its evaluation, the
    CPU they were measured on, and the self-check probe with each graph's logits on it."""
    if study.selection is None:
        raise ValueError(f"nothing to ship: {study.problem}")
    (folder / GRAPHS_DIR).mkdir(parents=True, exist_ok=True)
    if not (folder / TOKENIZER_DIR).exists():
        shutil.copytree(staging / TOKENIZER_DIR, folder / TOKENIZER_DIR)
    graphs = []
    for name in study.selection.shipped:
        shutil.copyfile(staging / graph_file(name), folder / graph_file(name))
        m = study.measurement(name)
        evaluation = {
            "validation_f1": m.f1 or 0.0,
            "f1_drop": m.f1_drop or 0.0,
            "label_agreement": m.label_agreement or 0.0,
            "max_difference": m.max_difference or 0.0,
            "batch_invariance": m.batch_invariance or 0.0,
            **{f"tweets_per_second_b{b}": v for b, v in m.tweets_per_second.items()},
        }
        graphs.append(GraphSpec(name, graph_file(name), study.schemes.get(name, {}), m.portable, evaluation))
    shipped = with_graphs(meta, graphs, study.cpu.to_dict())
    shipped.write(folder)
    probe_ids: list[list[int]] = []
    logits = {}
    for spec in graphs:
        predictor = Predictor(folder, version="probe", threads=threads, graph=spec.name)
        probe_ids = predictor.token_ids(list(probe_texts[:PROBE_TWEETS]), list(probe_keywords[:PROBE_TWEETS]))
        logits[spec.name] = predictor.logits(probe_ids)
    SelfCheckProbe(probe_ids, logits).save(folder)
    return shipped


@dataclass(frozen=True)
class BuiltPackages:
    staging: Path  # the fp32 graph and every candidate the study built (the fp32 reference lives here)
    package: Path  # what ships: the selected graphs, the study, the self-check probe
    study: StudyReport
    meta: PackageMeta


def build_packages(
    hf_dir: Path,
    work: Path,
    meta: PackageMeta,
    *,
    validation: Tweets,
    calibration: Sequence[tuple[str, str | None]],
    config: StudyConfig,
    on_step: Callable[[str], None],
) -> BuiltPackages:
    """Export ``hf_dir`` to ONNX, study every quantization candidate, and assemble the shipping package.

    Raises :class:`NoEligibleGraph` when no candidate satisfies the quantization rule (nothing ships).
    """
    fp32_model = export.export_onnx(hf_dir, work / "onnx")
    staging = work / STAGING_DIR
    staged = staging_package(staging, fp32_model, hf_dir, meta)
    probe = Predictor(staging, version="fp32", graph=REFERENCE, threads=config.threads)
    dim = int(probe.score(["probe"]).embeddings.shape[1])
    replace(staged, embedding_dim=dim).write(staging)
    study = run_study(
        staging,
        validation=validation,
        calibration=calibration,
        config=config,
        positive_label=meta.positive_label,
        on_step=on_step,
    )
    if study.selection is None:
        raise NoEligibleGraph(study.problem or "no quantization candidate satisfies the rule")
    package = work / PACKAGE_DIR
    shipped = shipping_package(
        package,
        staging,
        study,
        replace(meta, embedding_dim=dim),
        validation.texts,
        validation.keywords,
        threads=config.threads,
    )
    (package / STUDY_FILE).write_text(study.to_json(), encoding="utf-8")
    export.remove_tree(work / "onnx")
    return BuiltPackages(staging, package, study, shipped)


@dataclass(frozen=True)
class ChosenPoint:
    meta: PackageMeta  # as written back to the package
    validation_probabilities: npt.NDArray[np.float32] | None  # what the point was chosen on (None: no point)


def set_operating_point(
    package: Path, validation: Tweets, policy: Policy, training_texts: Sequence[str], *, threads: int = 2
) -> ChosenPoint:
    """Choose the package's decision threshold on the validation tweets by ``policy`` (with the graph that ships
    first) and record it, with the training languages, in ``package.json``. A model without a positive label
    (more than two labels) keeps deciding by the most probable label."""
    meta = PackageMeta.read(package)
    point = None
    probabilities = None
    if meta.positive_label is not None and len(meta.labels) == 2:
        predictor = Predictor(package, version="candidate", graph=meta.graph_names[0], threads=threads)
        pos = meta.labels.index(meta.positive_label)
        probabilities = predictor.score(validation.texts, validation.keywords).probabilities
        is_positive = np.array([label == meta.positive_label for label in validation.truth])
        point = choose(probabilities[:, pos], is_positive, policy, meta.positive_label).to_dict()
    updated = replace(meta, operating_point=point, languages=training_languages(training_texts))
    updated.write(package)
    return ChosenPoint(updated, probabilities)
