"""Progress bars for long work: tqdm on stderr, shown only when asked for and when stderr is a
terminal (in a log file or a pipe, a bar's redraws would pile up as lines of carriage
returns). tqdm is imported only when a bar is shown."""

import sys


def stderr_is_terminal():
    """True when stderr is an open terminal (it is None when the shell closed it: ``2>&-``)."""
    return sys.stderr is not None and sys.stderr.isatty()


def progress_bar(enabled, **options):
    """A tqdm bar on stderr when ``enabled`` and stderr is a terminal, else None.

    ``options`` are tqdm's (``total``, ``iterable``, ``desc``, ``unit``, ...); unless they say
    otherwise the bar vanishes when closed (``leave=False``) and follows the terminal's width.
    """
    if not enabled or not stderr_is_terminal():
        return None
    from tqdm import tqdm

    return tqdm(**{"leave": False, "dynamic_ncols": True, **options})


def with_progress(iterable, enabled, **options):
    """``iterable`` itself, or ``iterable`` in a bar when :func:`progress_bar` shows one."""
    bar = progress_bar(enabled, iterable=iterable, **options)
    return iterable if bar is None else bar
