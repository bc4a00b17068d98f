"""Benchmarks for gikai-topics: ``python -m bench [--quick] [--sections a,b,...]``.

Every run prints one table and rewrites ``docs/BENCHMARKS.md``.  Everything a
run creates (BentoML store, token caches, models, data files, server logs)
lives in a private temp folder that is removed at the end: the user's BentoML
store and token cache are never touched.
"""

SECTIONS = ("analyzer", "training", "cv", "serving", "peers", "corpus", "startup")
