"""The answer to Chapter 3's exercise: copy from the pinned buffer, asynchronously, into the preallocated output."""


def my_to_device(host, pinned, out):
    return out.copy_(pinned, non_blocking=True)
