"""The `tds` command line: thin click wrappers over the platform's Python API."""
