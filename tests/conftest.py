import perflab  # noqa: F401  (first: sets TRITON_INTERPRET=1 on machines without a GPU)
