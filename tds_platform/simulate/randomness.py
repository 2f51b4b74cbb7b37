"""Deterministic random draws keyed by (seed, what, when): the simulator's only source of chance.

A draw is a pure function of its key, so the same seed gives the same fleet, signal and faults for
the same simulated time in any run and any mode; this module must never use global random state.
"""

from __future__ import annotations

import hashlib
import math
import struct

_UNPACK = struct.Struct("<8Q").unpack
_SCALE = 1.0 / 2**64


def draws(seed: int, *key: object) -> tuple[float, ...]:
    """Eight independent uniforms in [0, 1) for one key, e.g. (seed, "noise", device, tick)."""
    digest = hashlib.blake2b(repr((seed, *key)).encode(), digest_size=64).digest()
    return tuple(n * _SCALE for n in _UNPACK(digest))


def uniform(seed: int, *key: object) -> float:
    return draws(seed, *key)[0]


def gaussian(u1: float, u2: float) -> float:
    """A standard normal from two uniforms (Box-Muller); u1 is shifted away from 0 for the log."""
    return math.sqrt(-2.0 * math.log(1.0 - u1)) * math.cos(2.0 * math.pi * u2)


def random_bytes(seed: int, *key: object, size: int = 32) -> bytes:
    return hashlib.blake2b(repr((seed, *key)).encode(), digest_size=size).digest()
