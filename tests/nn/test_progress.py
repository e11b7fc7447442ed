"""Progress bars: shown on a terminal when asked for, never in a pipe or a log file."""

import io
import sys

from nn.progress import progress_bar, with_progress


class Terminal(io.StringIO):
    def isatty(self):
        return True


def use_terminal(monkeypatch):
    """A fake terminal as stderr. Set inside the test's body: pytest's output capture puts its
    own stderr back between a fixture's setup and the test."""
    stream = Terminal()
    monkeypatch.setattr(sys, "stderr", stream)
    return stream


def test_a_bar_is_drawn_on_a_terminal_and_vanishes_when_closed(monkeypatch):
    terminal = use_terminal(monkeypatch)
    bar = progress_bar(True, total=3, desc="working", unit="step")
    bar.update(2)
    bar.close()
    drawn = terminal.getvalue()
    assert "working" in drawn and "/3" in drawn
    # leave=False: the last thing written blanks the line out
    assert drawn.rstrip("\r").split("\r")[-1].strip() == ""


def test_no_bar_when_not_asked_for_or_not_on_a_terminal(monkeypatch):
    terminal = use_terminal(monkeypatch)
    assert progress_bar(False, total=3) is None
    assert terminal.getvalue() == ""
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert progress_bar(True, total=3) is None
    items = [1, 2, 3]
    assert with_progress(items, True) is items


def test_with_progress_gives_every_item_in_order_through_the_bar(monkeypatch):
    terminal = use_terminal(monkeypatch)
    assert list(with_progress(range(4), True, desc="counting")) == [0, 1, 2, 3]
    assert "counting" in terminal.getvalue()


def test_the_caller_may_keep_a_bar_on_screen(monkeypatch):
    terminal = use_terminal(monkeypatch)
    bar = progress_bar(True, total=3, desc="kept", leave=True)
    bar.update(3)
    bar.close()
    last = terminal.getvalue().rstrip("\n").split("\r")[-1]
    assert last.startswith("kept") and "3/3" in last


def test_with_progress_counts_the_items_on_its_bar(monkeypatch):
    terminal = use_terminal(monkeypatch)
    items = [1, 2, 3, 4]
    wrapped = with_progress(items, True, desc="counting", leave=True)
    assert wrapped is not items and list(wrapped) == items
    assert "4/4" in terminal.getvalue()
