"""Eval suites, metrics, reports and benchmarks."""
