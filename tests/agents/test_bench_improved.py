"""The improved-agent benchmark's command line refuses bad values before any work."""

import pytest

from agents.bench_improved import main


@pytest.mark.parametrize("flags, message", [
    (["--seeds", "-1"], "expected a whole number of at least 0, got -1"),
    (["--seeds", "abc"], "expected a whole number, got 'abc'"),
    (["--variants", "nonsense"], "unknown variants nonsense"),
])
def test_bad_values_are_refused_with_a_usage_error(tmp_path, capsys, flags, message):
    assert main([*flags, "--out", str(tmp_path / "out.json")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out.json").exists()
