import pytest

import perflab as pl
from perflab.roofline import Roofline


def test_ridge_and_attainable():
    r = Roofline(device="toy", bandwidth_gbps=2000, peaks={"bfloat16": 800, "float32": 50})
    assert r.ridge("bfloat16") == pytest.approx(400)
    assert r.attainable_tflops(100, "bfloat16") == pytest.approx(200)     # memory-bound
    assert r.attainable_tflops(1000, "bfloat16") == 800                   # compute-bound
    assert r.attainable_tflops(1000, "float32") == 50


def test_points_report_fraction_of_attainable():
    r = Roofline(device="toy", bandwidth_gbps=1000, peaks={"float32": 10})
    r.add("half-speed", flops=1e12, bytes=1e11, seconds=0.2)   # 10 FLOP/B, 5 TFLOP/s, ridge 10
    assert r.points[0].intensity == 10 and r.points[0].tflops == pytest.approx(5)
    assert "50.0% of attainable" in str(r)


def test_pure_data_movement_is_refused_with_a_reason():
    r = Roofline(device="toy", bandwidth_gbps=1000, peaks={"float32": 10})
    with pytest.raises(ValueError, match="no place on a roofline"):
        r.add("copy", flops=0, bytes=1e9, seconds=1e-3)


def test_figure_has_ceilings_and_points():
    pytest.importorskip("plotly")
    r = Roofline(device="toy", bandwidth_gbps=1000, peaks={"float32": 10}, datasheet_gbps=1200,
                 datasheet_peaks={"float32": 12})
    r.add("k", 1e9, 1e8, 1e-3)
    names = [t.name for t in r.figure().data]
    assert any("measured" in n for n in names) and any("datasheet" in n for n in names)
    assert any("k" in n for n in names)


def test_calculators():
    assert pl.calc.transfer_seconds(1e9, 50, latency_s=1e-6) == pytest.approx(0.020001)
    assert pl.calc.bytes_in_flight(4800, 440) == pytest.approx(2.112e6)   # ~2 MB, digest ch07 §5
    assert pl.calc.matmul_intensity(4096, 4096, 4096, 2) == pytest.approx(4096 / 3, rel=1e-6)
    with pytest.raises(ValueError):
        pl.calc.ridge_point(0, 100)
    assert "memory-bound" in pl.calc.explain_roofline(0.25, 989, 4800)
