"""nn.cli's helpers that the commands' error lines are made of."""

import argparse
import errno

import pytest

from nn.cli import Terminated, UsageError, non_negative_int, positive_int, run_command
from nn.errors import first_line


def test_first_line_keeps_the_first_line_of_a_message_or_names_the_type():
    assert first_line(ValueError("bad value\nadvice the user cannot act on")) == "bad value"
    assert first_line(KeyError("x")) == "'x'"
    assert first_line(EOFError()) == "EOFError"


def test_whole_number_types_take_their_least_value_and_name_what_they_refuse():
    assert positive_int("1") == 1 and non_negative_int("0") == 0 and positive_int("12") == 12
    for parse, text, says in ((positive_int, "0", "at least 1, got 0"),
                              (non_negative_int, "-1", "at least 0, got -1"),
                              (positive_int, "2.5", "a whole number, got '2.5'")):
        with pytest.raises(argparse.ArgumentTypeError, match=says):
            parse(text)


def raises(exc):
    def body():
        raise exc
    return body


class Declared(Exception):
    pass


def test_run_command_turns_each_kind_of_ending_into_its_status_and_line(capsys):
    assert run_command(lambda: 0) == 0 and run_command(lambda: 3) == 3
    cases = [(raises(UsageError("bad value")), (), 2, "error: bad value"),
             (raises(Declared("the user's")), (Declared,), 2, "error: the user's"),
             (raises(KeyboardInterrupt()), (), 130, "error: interrupted"),
             (raises(Terminated()), (), 143, "error: terminated"),
             (raises(OSError(errno.ENOSPC, "No space left on device")), (), 2,
              "error: cannot write the standard output (No space left on device)")]
    for body, errors, status, line in cases:
        assert run_command(body, errors) == status
        assert capsys.readouterr().err.splitlines() == [line]
    assert run_command(raises(BrokenPipeError())) == 141  # ``... | head``: quietly
    assert capsys.readouterr().err == ""
    # an error the command did not declare, or one of a named file, is a bug: a traceback
    with pytest.raises(Declared):
        run_command(raises(Declared("a bug")))
    with pytest.raises(OSError):
        run_command(raises(OSError(errno.ENOSPC, "No space left on device", "result.png")))
