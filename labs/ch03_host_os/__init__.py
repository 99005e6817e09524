"""Chapter 3 labs: the host side of a GPU machine.

`h2d_copy` is a lab in the usual shape (pageable vs pinned host-to-device copies; it needs a GPU).
`host_report` reads the host's settings (NUMA, affinity, THP, governor, GPU topology) without changing
anything, and times first-touch page faults on any machine; `feeding` sweeps a DataLoader's workers and
pin_memory against a simulated GPU step (built on Chapter 5's loader); `models` holds the calculators,
`book_check` the book's numbers against ours, `solutions` the exercise answer.
"""
LABS = ["h2d_copy"]    # every other module here is a helper
