"""Child-process entry point: ``python -m bench._child IN.json OUT.json``.

Runs ``module:function(**args)`` from IN.json and writes
``{"result": ..., "peak_rss_mb": ..., "start_rss_mb": ..., "cpu_s": ...}`` to OUT.json
(``cpu_s``: this process's own user + system CPU time).
"""

from __future__ import annotations

import importlib
import json
import resource
import sys

from bench.common import peak_rss_mb, rss_mb


def main() -> None:
    in_path, out_path = sys.argv[1], sys.argv[2]
    spec = json.loads(open(in_path, encoding="utf-8").read())
    start = rss_mb()
    module, func = spec["target"].split(":")
    result = getattr(importlib.import_module(module), func)(**spec["args"])
    ru = resource.getrusage(resource.RUSAGE_SELF)
    data = {"result": result, "peak_rss_mb": round(peak_rss_mb(), 1), "start_rss_mb": round(start, 1),
            "cpu_s": ru.ru_utime + ru.ru_stime}
    with open(out_path, "w", encoding="utf-8") as fh:
        json.dump(data, fh, ensure_ascii=False, default=float)


if __name__ == "__main__":
    main()
