"""A model package folder that passes :func:`~tweet_triage.model.package.check_package` without a trained model."""

from __future__ import annotations

from pathlib import Path

from tweet_triage.model.package import (
    DRIFT_REFERENCE_FILE,
    TOKENIZER_DIR,
    GraphSpec,
    PackageMeta,
    graph_file,
)


def write_package(folder: Path, *, languages: tuple[str, ...] = ("en",)) -> PackageMeta:
    """Write the files a registry checks (metadata, tokenizer folder, graph, drift reference) as placeholders."""
    meta = PackageMeta(
        labels=["not_disaster", "disaster"],
        positive_label="disaster",
        max_length=16,
        use_keyword=False,
        graphs=[GraphSpec(name="placeholder", file=graph_file("placeholder"))],
        languages=list(languages),
    )
    (folder / TOKENIZER_DIR).mkdir(parents=True)
    (folder / TOKENIZER_DIR / "tokenizer.json").write_text("{}")
    (folder / meta.graphs[0].file).parent.mkdir(parents=True)
    (folder / meta.graphs[0].file).write_bytes(b"not a graph")
    (folder / DRIFT_REFERENCE_FILE).write_bytes(b"not a reference")
    meta.write(folder)
    return meta
