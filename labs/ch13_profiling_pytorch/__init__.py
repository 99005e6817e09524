"""Chapter 13 labs: profiling and tuning a PyTorch training step.

Lab modules: ``train_step`` (a tiny transformer's training run, fixed one cause at a time: input
pipeline, hidden host sync, bf16 autocast, fused AdamW, torch.compile, CUDA graphs) and
``checkpointing`` (activation checkpointing: the same gradients, less memory, more time; also the
exercise). Helpers: ``model`` (the model, data and loop pieces), ``profiling`` (torch.profiler and NVTX
ranges, wrong and right nesting), ``memory`` (peak memory and saved-activation bytes), ``memory_snapshot``
(the allocator's event log of one step as a timeline, with and without checkpointing), ``dist_train`` (the
torchrun script: one process vs DDP vs FSDP2 on two ranks) and ``dist_launch`` (starts it, reads its JSON,
makes the tables), ``book_check`` and ``solutions``.
"""
LABS = ["checkpointing", "train_step"]    # every other module here is a helper
