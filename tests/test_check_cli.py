"""The CLI: every --help works, bad arguments are one usage line with exit 2, and the exit codes mean one thing."""
import pytest

from perflab import cli, peaks

SUBCOMMANDS = ["doctor", "list", "run", "bench", "report", "ceilings", "audit"]


@pytest.mark.parametrize("cmd", [[]] + [[c] for c in SUBCOMMANDS])
def test_every_help_works(cmd, capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(cmd + ["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert "usage: perflab" in out
    if cmd in ([], ["run"], ["bench"]):
        assert "2  usage error" in out and "3  crash" in out       # the exit codes are documented


@pytest.mark.parametrize("argv, says", [
    (["run", "ch00.scale_shift", "--size", "-5"], "sizes are one int"),
    (["run", "ch00.scale_shift", "--size", "0"], "must be > 0"),
    (["run", "ch00.scale_shift", "--size", "(3, 4)"], "sizes are one int"),
    (["run", "ch07.transpose", "--size", "301"], "a tuple of 2 ints"),
    (["run", "ch00.scale_shift", "--dtype", "float16"], "supports dtypes"),
    (["run", "ch00.scale_shift", "--variant", "nope"], "no variant 'nope'"),
    (["run", "ch00.nope"], "no lab 'ch00.nope'"),
    (["bench", "ch00.scale_shift", "ch99.x", "--out", "unused.json"], "no chapter 'ch99'"),
])
def test_bad_arguments_are_one_line_and_exit_2_before_any_work(argv, says, capsys, monkeypatch):
    monkeypatch.setattr(peaks, "ceilings", lambda **k: pytest.fail("no work before the arguments are checked"))
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert says in err and "\n" not in err and "Traceback" not in err


@pytest.mark.parametrize("argv", [["run", "ch00.scale_shift", "--size", "abc"],
                                  ["run", "ch00.scale_shift", "--rep-ms", "nan"],
                                  ["run", "ch00.scale_shift", "--rep-ms", "-1"]])
def test_unparsable_arguments_get_argparse_usage_and_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(argv)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "error: argument" in err and "Traceback" not in err


def test_a_crash_is_exit_3_not_1(monkeypatch, capsys):
    def boom(args):
        raise RuntimeError("planted")
    monkeypatch.setattr(cli, "_list", boom)
    assert cli.main(["list"]) == 3
    assert "crashed (exit 3)" in capsys.readouterr().err
