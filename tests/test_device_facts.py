"""Device facts are read (NVML), never typed in: clocks, power limit and driver, or nothing on a CPU."""
import sys
import types

from perflab import machine


class _FakeNVML(types.ModuleType):
    NVML_CLOCK_SM, NVML_CLOCK_MEM = 1, 2

    class NVMLError(Exception):
        pass

    def __init__(self, fail=False):
        super().__init__("pynvml")
        self.fail, self.shut = fail, False

    def nvmlInit(self):
        if self.fail:
            raise self.NVMLError("no driver")

    def nvmlShutdown(self):
        self.shut = True

    def nvmlDeviceGetHandleByIndex(self, i):
        return i

    def nvmlSystemGetDriverVersion(self):
        return b"580.1"

    def nvmlDeviceGetMaxClockInfo(self, h, which):
        return {1: 1980, 2: 2619}[which]

    def nvmlDeviceGetPowerManagementLimit(self, h):
        return 700_000                                  # milliwatts


def test_nvml_facts_are_read_and_nvml_shut_down(monkeypatch):
    fake = _FakeNVML()
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    machine.nvml_facts.cache_clear()
    try:
        assert machine.nvml_facts() == {"sm_clock_mhz": 1980, "memory_clock_mhz": 2619, "power_limit_w": 700.0,
                                        "driver": "580.1"}
        assert fake.shut
    finally:
        machine.nvml_facts.cache_clear()


def test_without_nvml_or_a_driver_there_are_no_facts(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", _FakeNVML(fail=True))
    machine.nvml_facts.cache_clear()
    try:
        assert machine.nvml_facts() == {}
        monkeypatch.setitem(sys.modules, "pynvml", None)           # not installed: import fails
        machine.nvml_facts.cache_clear()
        assert machine.nvml_facts() == {}
    finally:
        machine.nvml_facts.cache_clear()


def test_the_queue_and_occupancy_models_read_the_reference_manifest():
    from perflab import results
    from labs.ch08_occupancy_ilp import sweep
    from labs.ch12_graphs_scheduling import queues
    man = results.reference_manifest()
    assert f"{man['sms']} programs" in str(queues.predict((200_003, 257, 32)))
    assert man["device"] in sweep.model("ch08.fma_ilp").source
