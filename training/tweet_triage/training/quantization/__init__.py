"""Quantization chosen by measurement, on the machine at hand.

* :mod:`.schemes` — every candidate graph the study can build from the fp32 export (fp32, ONNX Runtime fusions,
  MatMulNBits, dynamic int8, static int8 QDQ/QOperator with MinMax/percentile/entropy calibration, per-token int8,
  mixed precision);
* :mod:`.per_token` — the per-token dynamic int8 rewrite (batch-invariant by construction);
* :mod:`.sensitivity` — each linear layer's own quantization error, to pick what mixed precision keeps in fp32;
* :mod:`.measure` — speed, accuracy and batch invariance of one graph;
* :mod:`.rule` — the selection rule (plain logic, unit-tested on synthetic tables);
* :mod:`.study` — all candidates side by side in one process, on the same tweets: one table and a choice.
"""
