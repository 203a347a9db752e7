"""Benchmark datasets (BEIR, SQuAD) read into typed values, and the indexes cached for them."""
