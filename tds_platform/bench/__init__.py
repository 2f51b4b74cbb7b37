"""Benchmarks of the platform against the machine's own ceilings (`tds bench ...`).

Measurements, not tests: nothing here asserts a speed; targets are compared in the reports.
"""
