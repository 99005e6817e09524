"""The profiler table fits a notebook: percentage and average columns dropped, the layout kept."""
import torch

import perflab as pl
from perflab.nsight import _narrow

GPU_LIKE = "\n".join([
    "-" * 20 + "  " + "  ".join(["-" * 12] * 4) + "  ",
    "Name".rjust(20) + "    Self CPU %     Self CUDA   Self CUDA %  CUDA time avg  ",   # overruns, as torch does
    "-" * 20 + "  " + "  ".join(["-" * 12] * 4) + "  ",
    "aten::addmm".rjust(20) + "  " + "  ".join(v.rjust(12) for v in ("13.04%", "3.693ms", "47.01%", "15.387us")) + "  ",
    "-" * 20 + "  " + "  ".join(["-" * 12] * 4) + "  ",
    "Self CPU time total: 34.5ms",
])


def test_narrow_drops_percent_and_average_columns_even_when_the_header_overruns():
    out = _narrow(GPU_LIKE).splitlines()
    assert out[1].split() == ["Name", "Self", "CUDA"]
    assert out[3].split() == ["aten::addmm", "3.693ms"]
    assert out[-1] == "Self CPU time total: 34.5ms" and len(out) == 6
    assert _narrow("not a table") == "not a table"


def test_torch_profile_fits_a_notebook_and_keeps_stderr_quiet(capfd):
    x = torch.randn(64, 64)
    text = pl.torch_profile(lambda: x @ x + 1, steps=2, row_limit=4)
    assert max(map(len, text.splitlines())) <= 110
    assert "# of Calls" in text and "%" not in text.splitlines()[1]
    err = capfd.readouterr().err
    assert "profiler_start" not in err and "UserWarning" not in err
