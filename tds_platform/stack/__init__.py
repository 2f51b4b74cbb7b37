"""The local stack: a project-owned PostgreSQL+TimescaleDB cluster and Mosquitto broker.

Used by `tds stack`, `make up` and the test fixtures; it must never touch a system-wide server.
"""

from tds_platform.stack.control import LocalStack, StackError
from tds_platform.stack.layout import StackLayout

__all__ = ["LocalStack", "StackError", "StackLayout"]
