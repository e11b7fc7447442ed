"""The improved-agent benchmark's command line refuses bad values before any work."""

import pytest

from agents.bench_improved import main


@pytest.mark.parametrize("flags, message", [
    (["--seeds", "-1"], "seeds must be at least 0"),
    (["--seeds", "abc"], "invalid int value"),
    (["--variants", "nonsense"], "unknown variants"),
])
def test_bad_values_are_refused_with_a_usage_error(tmp_path, capsys, flags, message):
    with pytest.raises(SystemExit) as exc:
        main([*flags, "--out", str(tmp_path / "out.json")])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out.json").exists()
