"""Chapter 12 labs: CUDA graphs on a launch-bound step, and dynamic atomic work queues on skewed work.

Lab modules: ``launch_bound`` (160 tiny kernels per step: eager vs a captured CUDA graph vs
torch.compile), ``skewed_queue`` (a static split vs a dynamic queue when 1/8 of the items cost 8×),
``atomic_batch`` (items per atomic grab, 1 to 32,768) and ``book_queue`` (the book's idx % 256
microbenchmark in CUDA C). Helpers: ``simulators`` (makespan and launch-overhead models, pure
Python), ``graphs`` (first-call cost, launch counts), ``queues`` (the simulator on the lab's own
costs), ``_triton`` and ``_cuda`` (the kernels), ``book_check``, ``solutions``.
"""
LABS = ["atomic_batch", "book_queue", "launch_bound", "skewed_queue"]    # every other module here is a helper
