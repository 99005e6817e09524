"""Chapter 11 labs: streams, events and the stream-ordered allocator.

`overlap` is the chapter's main lab (copy in, compute, copy out in chunks: one stream vs streams and
events), `threads` the same pipeline on CPU threads, `alloc_loop` a workspace allocated and freed in a
4-stream loop (cudaMalloc/cudaFree vs caching and stream-ordered pools). The other modules hold the
chunk's compute and its calibration (`compute`), CUDA C sources (`_cuda`), the pipeline simulator
(`simulators`), timelines (`timeline`), the allocator experiments (`allocator`), hidden synchronization
probes (`sync_points`), the book check and the exercise answer.
"""
LABS = ["alloc_loop", "overlap", "threads"]    # every other module here is a helper
