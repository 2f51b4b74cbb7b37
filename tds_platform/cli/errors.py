"""Turning the errors a user can cause into one clear sentence and exit code 2.

Tracebacks are for our bugs; a stopped server, a taken port or a bad URL is not one.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import click
from sqlalchemy.exc import OperationalError

from ingest_stream.logs import first_line
from tds_platform.stack import StackError

P = ParamSpec("P")
R = TypeVar("R")


def user_errors(func: Callable[P, R]) -> Callable[P, R]:
    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except StackError as exc:
            raise click.ClickException(str(exc)) from exc
        except OperationalError as exc:
            reason = first_line(exc.orig or exc)
            raise click.ClickException(
                f"cannot reach the database ({reason}); is it running? try `tds stack status`"
            ) from exc

    return wrapper
