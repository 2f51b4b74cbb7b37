"""Rollups: telemetry_1m -> telemetry_1h -> telemetry_1d, their SQL per edition and the refresh of a window.

Same table names, columns and numbers on every edition; nothing here imports Dagster, and a
refresh never writes outside the window it was asked for.
"""
