"""labs.gate_counters: ncu rows folded into one value per metric (units, sums, weighted rates), and the refusal
on a machine without a GPU."""
import pytest

from labs import gate_counters as gc
from perflab.nsight import ProfileResult


def test_values_scale_units_add_counts_and_weight_rates():
    m = gc.METRICS
    rows = [("k1", m["time"], 100.0, "usecond"), ("k2", m["time"], 0.3, "msecond"),
            ("k1", m["dram_read"], 1.0, "Gbyte"), ("k2", m["dram_read"], 500.0, "Mbyte"),
            ("k1", m["dram_pct"], 40.0, "%"), ("k2", m["dram_pct"], 80.0, "%"),
            ("k1", m["regs"], 32.0, "register/thread"), ("k2", m["regs"], 64.0, "register/thread")]
    v = gc.values(ProfileResult(True, rows=rows))
    assert abs(v["time"] - 400e-6) < 1e-12 and v["dram_read"] == 1.5e9
    assert v["dram_pct"] == (100 * 40 + 300 * 80) / 400          # weighted by each kernel's time, not 60
    assert v["regs"] == 64 and v["dram_write"] is None
    short = gc.values(ProfileResult(True, rows=[("k", m["time"], 250816.0, "ns")]))   # ncu 2025's spelling
    assert abs(short["time"] - 250.816e-6) < 1e-12
    with pytest.raises(ValueError, match="fortnight"):          # an unknown unit is never read as 1
        gc.values(ProfileResult(True, rows=[("k", m["time"], 3.0, "fortnight")]))


def test_row_divides_dram_bytes_by_the_lab_minimum():
    lab_min = 2 * 8191 * 8189 * 4                                  # ch07.transpose default: read and write once
    v = {"time": 1e-3, "dram_pct": 70.0, "dram_read": lab_min / 2, "dram_write": lab_min / 4, "sectors": 400.0,
         "requests": 100.0, "occupancy": 50.0, "regs": 40.0}
    assert gc.row("ch07.transpose", "triton_tiled", v)[1:] == ["1,000.0", "70", "0.75×", "4.0", "50", "40"]
    assert gc.row("ch07.transpose", "triton_tiled", dict(v, dram_write=None, requests=0))[3:5] == ["—", "—"]


def test_cpu_tier_refuses_cleanly(capsys):
    import perflab as pl
    if pl.env().tier == "gpu":
        return
    assert gc.main([]) == 2 and "need a CUDA GPU" in capsys.readouterr().out
