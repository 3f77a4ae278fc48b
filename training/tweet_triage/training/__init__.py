"""The training pipeline: versioned data to an int8 ONNX model in the registry, with gates, approval and lineage."""
