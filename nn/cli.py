"""Command-line plumbing shared by every ``python -m`` command of the project.

The contract: bad input of any kind ends in one line ``error: ...`` on stderr and exit
status 2, never a traceback. :class:`OneLineParser` turns argparse's own errors into
:class:`UsageError`, the ``*_int`` functions are argparse types with messages that name the
value, and :func:`run_command` prints the one line for the errors a command declares as the
user's to fix.

It lives in ``nn`` because ``nn`` is the package everything else builds on (``nn.bench``
and ``nn.gradcheck`` are commands too); the agents' shared options are in
:mod:`agents.cli`.
"""

import argparse
import contextlib
import errno
import os
import signal
import sys
import threading

EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143  # 128 + SIGTERM, what the shell reports for a killed command
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE: the reader of stdout went away


class Terminated(BaseException):
    """SIGTERM (``kill``, ``timeout``) raised as an exception, so that cleanup code runs as it
    does for Ctrl-C: temporary files and folders the command created are removed."""


def _raise_terminated(signum, frame):
    raise Terminated


@contextlib.contextmanager
def _sigterm_raises():
    # signal handlers can only be set from the main thread; a SIGTERM ignored by whoever
    # started the command (as nohup does with SIGHUP) stays ignored
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGTERM) is signal.SIG_IGN):
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class UsageError(ValueError):
    """A command-line problem that is the user's to fix; printed as ``error: ...``."""


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line ``error: ...`` and exit status 2.

    argparse's default prints the usage block first; the project promises a single line.
    """

    def error(self, message):
        raise UsageError(message)


def int_at_least(text, minimum):
    """An integer >= ``minimum`` from ``text``, or an argparse error that names the value."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(
            f"expected a whole number of at least {minimum}, got {value}")
    return value


def positive_int(text):
    """argparse type: an integer >= 1."""
    return int_at_least(text, 1)


def non_negative_int(text):
    """argparse type: an integer >= 0 (seeds)."""
    return int_at_least(text, 0)


def tell(line):
    """Print ``line`` on stderr (a note, or the one ``error:`` line). Nothing happens when
    stderr is closed (``2>&-``) or cannot be written (``2>/dev/full``): a line nobody can
    read must not turn a run into a crash, nor a refusal's status 2 into 1."""
    if sys.stderr is None:
        return
    with contextlib.suppress(OSError, ValueError):
        print(line, file=sys.stderr, flush=True)


def run_command(body, errors=()):
    """Call ``body()`` and return its exit status; a :class:`UsageError` or one of ``errors``
    (exception classes) becomes one line ``error: ...`` on stderr and status 2, Ctrl-C the
    line ``error: interrupted`` and status 130 (the shell's code for SIGINT), SIGTERM
    ``error: terminated`` and 143. A closed stdout (``... | head``) ends the command quietly
    with 141, as SIGPIPE ends other tools, and a stdout that cannot be written (a full disk)
    with one line and status 2; text stdout cannot encode (a file name that is not valid UTF-8)
    is written with backslash escapes instead of failing. A path too long for the system to look
    up (ENAMETOOLONG, wherever it is met) is the user's to shorten: one line and status 2. The
    lines go through :func:`tell`, so a closed or full stderr changes no status."""
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    try:
        with _sigterm_raises():
            status = body()
            # a closed pipe shows only when the buffered summary is flushed: flush here,
            # where it can be caught, not at exit (stdout is None when it was closed: >&-)
            if sys.stdout is not None:
                sys.stdout.flush()
            return status
    except (UsageError, *errors) as exc:
        tell(f"error: {exc}")
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        tell("error: interrupted")
        return EXIT_INTERRUPTED
    except Terminated:
        tell("error: terminated")
        return EXIT_TERMINATED
    except BrokenPipeError:
        _quiet_stdout()
        return EXIT_BROKEN_PIPE
    except OSError as exc:
        if exc.errno == errno.ENAMETOOLONG:
            # a path the system refuses to even look up (over PATH_MAX in all): wherever the
            # lookup happened, it is the user's path to shorten
            tell(f"error: {_shortened(exc.filename)}: {exc.strerror}; choose a shorter path")
            return EXIT_BAD_INPUT
        if exc.errno is None or not _is_stdout_error(exc):
            raise
        # typically stdout on a full disk (>/dev/full) or a failing device: one line, not a
        # traceback (errors of the result files are OutputError, named, before this)
        _quiet_stdout()
        tell(f"error: cannot write the standard output ({exc.strerror})")
        return EXIT_BAD_INPUT


def _shortened(path, keep=40):
    """``path`` as text, its middle cut out when it is longer than twice ``keep`` characters
    (a path thousands of characters long would fill the terminal)."""
    text = os.fsdecode(path) if path is not None else "a path"
    return text if len(text) <= 2 * keep else f"{text[:keep]}...{text[-keep:]}"


def _is_stdout_error(exc):
    """True for an OSError raised by a write to stdout (no file name attached)."""
    # EDQUOT is not defined on every platform
    codes = (errno.ENOSPC, errno.EIO, errno.EFBIG, getattr(errno, "EDQUOT", errno.ENOSPC))
    return exc.filename is None and exc.errno in codes


def _quiet_stdout():
    """Point stdout at /dev/null, so that Python's flush at exit does not fail again."""
    if sys.stdout is None:
        return
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
