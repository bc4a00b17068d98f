"""Cross-validation, held-out assemblies, baselines, learning curves and reports."""
