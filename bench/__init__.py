"""Benchmarks, run by ``make bench`` (``python -m bench``). Each sub-package is one benchmark
and exposes ``main(argv) -> int``; results go to ``bench/results/<name>.json``."""
