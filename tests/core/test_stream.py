"""The walk on its own thread: items arrive in order, the walk stops when asked, its errors reach the reader."""

import itertools

import pytest

from core.photos.sources import ImageItem
from core.photos.stream import ItemStream


def _items(count=None):
    """``count`` items, or endlessly many."""
    numbers = itertools.count() if count is None else range(count)
    return (ImageItem(source=f"{i}.jpg", name=f"{i}.jpg") for i in numbers)


def _drain(stream):
    taken = []
    while (item := stream.poll(wait=True)) is not None:
        taken.append(item)
    return taken


def test_items_arrive_in_order_and_the_count_is_final_at_the_end():
    with ItemStream(_items(50), capacity=7) as stream:
        assert [item.name for item in _drain(stream)] == [f"{i}.jpg" for i in range(50)]
        assert stream.ended and stream.found == 50 and stream.poll(wait=True) is None


def test_closing_stops_an_endless_walk_that_is_blocked_on_a_full_queue():
    stream = ItemStream(_items(), capacity=5)  # never ends by itself
    assert stream.poll(wait=True).name == "0.jpg"
    stream.close()
    assert not stream._thread.is_alive() and stream.found <= 8


def test_an_error_in_the_walk_is_raised_to_the_reader_after_the_items_before_it():
    def broken_walk():
        yield from _items(2)
        raise PermissionError("share went away")

    stream = ItemStream(broken_walk())
    assert stream.poll(wait=True).name == "0.jpg" and stream.poll(wait=True).name == "1.jpg"
    with pytest.raises(PermissionError, match="share went away"):
        stream.poll(wait=True)
