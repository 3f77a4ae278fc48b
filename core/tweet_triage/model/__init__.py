"""The model as every component sees it: text normalization, the model package, the predictor, the registry."""
