"""gikai-topics: the package that builds models (corpus, analysis, features, CV, reports, CLI)."""
