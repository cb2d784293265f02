"""Helpers shared by the test layers, the fakes and the benchmark (real data, no mocks)."""
