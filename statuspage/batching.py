"""Batches of a sequence or a stream: the one helper for `IN (...)` queries kept under
SQLite's limit on a query's parameters, bulk writes and batched calls to other services."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice
from typing import TypeVar

T = TypeVar("T")

# Ids per `IN (...)` query: SQLite allows at most 999 parameters in older builds.
IN_QUERY_SIZE = 500


def chunks(items: Iterable[T], size: int = IN_QUERY_SIZE) -> Iterator[list[T]]:
    """`items` in lists of at most `size`, in order. It reads `items` lazily, so a
    generator or a queryset's `.iterator()` is batched without being held in memory whole."""
    if size < 1:
        raise ValueError("a batch holds at least one item")
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch
