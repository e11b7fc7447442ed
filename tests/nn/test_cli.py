"""nn.cli's helpers that the commands' error lines are made of."""

from nn.cli import first_line


def test_first_line_keeps_the_first_line_of_a_message_or_names_the_type():
    assert first_line(ValueError("bad value\nadvice the user cannot act on")) == "bad value"
    assert first_line(KeyError("x")) == "'x'"
    assert first_line(EOFError()) == "EOFError"
