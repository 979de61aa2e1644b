"""statuspage.batching.chunks: the one way to walk a sequence or a stream in batches."""

from __future__ import annotations

import pytest

from statuspage.batching import chunks


def test_it_keeps_every_item_in_order_in_batches_of_at_most_size():
    assert list(chunks(range(7), 3)) == [[0, 1, 2], [3, 4, 5], [6]]
    assert list(chunks([], 3)) == []
    assert list(chunks("abcd", 2)) == [["a", "b"], ["c", "d"]]


def test_it_reads_a_stream_lazily_one_batch_ahead_at_most():
    read: list[int] = []

    def stream():
        for n in range(10):
            read.append(n)
            yield n

    batches = chunks(stream(), 4)
    assert next(batches) == [0, 1, 2, 3]
    assert read == [0, 1, 2, 3]  # nothing beyond the first batch was consumed


def test_it_refuses_an_empty_batch_size():
    with pytest.raises(ValueError, match="at least one"):
        list(chunks([1], 0))
