"""Several ncu cases in one profiled child: the child's case ranges, the row split by NVTX range on canned
`ncu --csv --page raw --nvtx` output, and the whole path through a stand-in ncu executable."""
import csv
import dataclasses
import io
import os
import stat
import sys

import pytest

from perflab import nsight, profile_target

NVTX = "thread Domain:Push/Pop_Range:PL_Type:PL_Value:CLR_Type:Color:Msg_Type:Msg"
HEADER = ["ID", "Process ID", "Process Name", "Host Name", NVTX, "Kernel Name",
          "gpu__time_duration.sum", "dram__bytes_read.sum"]
UNITS = ["", "", "", "", "", "", "nsecond", "byte"]


def stack(*names):
    """An NVTX cell as ncu prints it: the thread id, then each pushed range of the stack."""
    return "1  " + "  ".join(f'"<default domain>:{n}:none:none:none:none:none:none"' for n in names)


def csv_text(records, header=HEADER, units=UNITS):
    buf = io.StringIO()
    w = csv.writer(buf, quoting=csv.QUOTE_ALL, lineterminator="\n")
    w.writerows([header, units, *records])
    return "==PROF== Connected to process 7\n" + buf.getvalue() + "==PROF== Disconnected\n"


CANNED = csv_text([
    ["0", "7", "python3", "h", stack("perflab", "perflab-case-0"), "copy_kernel", "1,000", "4000"],
    ["1", "7", "python3", "h", stack("perflab", "perflab-case-1"), "reduce_a", "300", "100"],
    ["2", "7", "python3", "h", stack("perflab", "perflab-case-1", "lab_inner"), "reduce_b", "200", "50"],
    ["3", "7", "python3", "h", stack("perflab", "perflab-case-12"), "late_kernel", "5", "6"],
])


def test_rows_are_split_by_the_case_range_each_kernel_ran_in():
    per = nsight.parse_ncu_cases(CANNED, 13)
    assert per[0] == [("copy_kernel", "gpu__time_duration.sum", 1000.0, "nsecond"),
                      ("copy_kernel", "dram__bytes_read.sum", 4000.0, "byte")]
    assert [k for k, m, _, _ in per[1] if m == "dram__bytes_read.sum"] == ["reduce_a", "reduce_b"]
    assert per[12][0][0] == "late_kernel"                   # case 12 is not read as case 1
    assert all(per[i] == [] for i in range(2, 12))          # a case without kernels stays empty
    # the two kernels of case 1 are one call: counts add up
    assert nsight._over_kernels(nsight.ProfileResult(True, rows=per[1]), "dram__bytes_read.sum") == 150.0
    assert sum(map(len, per)) == 8                          # every kernel lands in one case


def test_kernels_that_cannot_be_told_apart_give_none_not_a_wrong_split():
    plain = csv_text([["0", "7", "p", "h", "copy_kernel", "1", "2"]],
                     header=[h for h in HEADER if h != NVTX], units=UNITS[:4] + UNITS[5:])
    assert nsight.parse_ncu_cases(plain, 2) is None          # several cases, no NVTX column
    assert nsight.parse_ncu_cases(plain, 1)[0][0][0] == "copy_kernel"   # one case: all rows are its own
    unlabelled = csv_text([["0", "7", "p", "h", stack("perflab"), "copy_kernel", "1", "2"]])
    assert nsight.parse_ncu_cases(unlabelled, 3) is None
    assert len(nsight.parse_ncu_cases(unlabelled, 1)[0]) == 2
    assert nsight.parse_ncu_cases("no csv here", 2) == [[], []]
    with pytest.raises(ValueError, match="number of cases"):
        nsight.parse_ncu_cases(CANNED, 0)


def test_case_strings_round_trip_and_bad_ones_say_how_to_write_them():
    for case in [("ch07.copy_ladder", "coalesced", 1_000_003), ("ch07.transpose", "cuda_smem_32", (1031, 1029)),
                 ("ch08.fma_ilp", "cuda_ilp1", None), ("chx.lab", "v", {"n": 3})]:
        assert profile_target.parse_case(profile_target.format_case(*case)) == case
    with pytest.raises(ValueError, match="lab:variant:size"):
        profile_target.parse_case("ch07.copy_ladder:coalesced")
    with pytest.raises(ValueError, match="not a Python literal"):
        profile_target.parse_case("ch07.copy_ladder:coalesced:big")


def test_the_child_runs_every_case_in_its_own_range_and_reports_a_failure(capsys):
    ran = []

    def fake_run(lab, variant, size, name):
        if variant == "broken":
            raise RuntimeError("no kernel image\nfor this device")
        ran.append((lab, variant, size, name))

    cases = [("a.lab", "x", 1), ("a.lab", "broken", 2), ("b.lab", "y", (3, 4))]
    assert profile_target.run_cases(cases, run=fake_run) == 1
    assert ran == [("a.lab", "x", 1, "perflab-case-0"), ("b.lab", "y", (3, 4), "perflab-case-2")]
    err = capsys.readouterr().err
    assert "perflab-case-1 failed: RuntimeError: no kernel image for this device" in err


def test_the_child_command_line(monkeypatch):
    seen = []
    monkeypatch.setattr(profile_target, "run_once", lambda *a, **k: seen.append((a, k)))
    assert profile_target.main(["ch07.copy_ladder", "coalesced", "--size", "1000003",
                                "--case", "ch07.transpose:cuda_smem_32:(1031, 1029)"]) == 0
    assert seen == [(("ch07.copy_ladder", "coalesced", 1_000_003), {"name": "perflab-case-0"}),
                    (("ch07.transpose", "cuda_smem_32", (1031, 1029)), {"name": "perflab-case-1"})]
    with pytest.raises(SystemExit):
        profile_target.main([])


# ---- the whole path: a stand-in `ncu` that prints what ncu prints for the cases it was given ----------

FAKE_NCU = r'''
import csv, os, sys
args = sys.argv[1:]
with open(os.environ["FAKE_NCU_LOG"], "a") as log:
    log.write(" ".join(args) + "\n")
cases = [args[i + 1] for i, a in enumerate(args) if a == "--case"]
labelled = os.environ.get("FAKE_NCU_NVTX", "1") == "1"
header = ["ID", "Process ID", "Kernel Name", "gpu__time_duration.sum", "dram__bytes_read.sum"]
if labelled:
    header.insert(2, "thread Domain:Push/Pop_Range:PL_Type:PL_Value:CLR_Type:Color:Msg_Type:Msg")
w = csv.writer(sys.stdout, quoting=csv.QUOTE_ALL, lineterminator="\n")
w.writerow(header)
w.writerow([""] * (len(header) - 2) + ["nsecond", "byte"])
for i, case in enumerate(cases):
    lab, variant, size = case.split(":", 2)
    if variant == "broken":
        print(f"perflab-case-{i} failed: ValueError: unknown variant", file=sys.stderr)
        continue
    nvtx = [f'1  "<default domain>:perflab:none"  "<default domain>:perflab-case-{i}:none"'] if labelled else []
    w.writerow([str(i), "9"] + nvtx + [f"{variant}_kernel", "100", str(1000 * (i + 1))])
'''


@pytest.fixture
def fake_ncu(tmp_path, monkeypatch):
    import perflab.machine as machine
    exe = tmp_path / "ncu"
    exe.write_text(f"#!{sys.executable}\n" + FAKE_NCU)
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    log = tmp_path / "calls.log"
    fake_env = dataclasses.replace(machine.env(), tier="gpu")
    monkeypatch.setattr(machine, "env", lambda: fake_env)
    monkeypatch.setattr(nsight, "find", lambda tool: str(exe))
    monkeypatch.setenv("FAKE_NCU_LOG", str(log))
    return log


def test_all_cases_are_profiled_by_one_ncu_child(fake_ncu):
    cases = [("ch07.copy_ladder", "strided_32", 1_000_003), ("ch07.copy_ladder", "broken", 7),
             ("ch07.transpose", "cuda_smem_32", (1031, 1029))]
    res = nsight.ncu_cases(cases, metrics=["dram__bytes_read.sum"], timeout_s=60)
    calls = fake_ncu.read_text().splitlines()
    assert len(calls) == 1 and calls[0].count("--case") == 3 and "--nvtx-include perflab/" in calls[0]
    assert "ch07.transpose:cuda_smem_32:(1031, 1029)" in calls[0]
    assert res[0].available and res[0].value("dram__bytes_read.sum") == 1000.0
    assert not res[1].available and "ValueError: unknown variant" in res[1].reason
    assert res[2].available and res[2].value("dram__bytes_read.sum") == 3000.0
    table = str(nsight.ncu_compare(cases, {"DRAM bytes read": "dram__bytes_read.sum"}, timeout_s=60))
    assert "ch07.copy_ladder.broken" in table and "unavailable" in table and "3,000" in table


def test_an_ncu_without_nvtx_labels_falls_back_to_a_child_per_case(fake_ncu, monkeypatch):
    monkeypatch.setenv("FAKE_NCU_NVTX", "0")
    cases = [("a.lab", "x", 1), ("a.lab", "y", 2)]
    res = nsight.ncu_cases(cases, metrics=["dram__bytes_read.sum"], timeout_s=60)
    calls = fake_ncu.read_text().splitlines()
    assert len(calls) == 3 and [c.count("--case") for c in calls] == [2, 1, 1]
    assert [r.rows[0][0] for r in res] == ["x_kernel", "y_kernel"]     # each from its own child


@pytest.mark.parametrize("bad", [[("ch07.copy_ladder", "coalesced")], []])
def test_bad_cases_are_a_clear_error(bad):
    with pytest.raises(ValueError, match="triples"):
        nsight.ncu_cases(bad)


def test_no_gpu_means_one_reason_for_every_case():
    import perflab.machine as machine
    if machine.env().tier == "gpu":
        pytest.skip("cpu-tier behaviour")
    res = nsight.ncu_cases([("a.lab", "x", 1), ("a.lab", "y", 2)])
    assert len(res) == 2 and all(not r.available and "cpu tier" in r.reason for r in res)
    assert os.environ.get("TRITON_INTERPRET") == "1"
