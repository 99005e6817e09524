"""The answer to Chapter 3's exercise: copy from the pinned buffer, asynchronously, into the preallocated output."""


def my_to_device(host, pinned, out):
    return out.copy_(pinned, non_blocking=True)


def _into_out_from_pinned(c):
    out, pinned = c.inputs["out"], c.inputs["pinned"]
    wrote = getattr(c.output, "data_ptr", lambda: None)() == out.data_ptr()
    read = pinned.data_ptr() in c.probe.read
    return wrote and read, f"returns out: {wrote}; reads the pinned buffer: {read}"


from perflab.exercise import Ceiling, Exercise, Holds, Step  # noqa: E402

EXERCISES = [Exercise(
    "ch03.h2d_copy", answer=my_to_device,
    evidence="H100 run 2026-12-07 at 16M floats: pageable 13% of the pinned H2D rate, pinned_async 95%",
    steps=[Step("copy from the pinned buffer into out",
                hint="out.copy_(pinned, non_blocking=True): no new allocation, and only a pinned source lets the "
                     "copy engine run asynchronously",
                cpu=[Holds("copies pinned → out", _into_out_from_pinned)],
                gpu=[Holds("copies pinned → out", _into_out_from_pinned), Ceiling(at_least=0.8)])])]

__all__ = ["my_to_device", "EXERCISES"]
