"""Chapter 18 labs: KV cache tuning and transfer (page collation, quantized KV, KV sizing).

`kv_transfer` (device to device) and `kv_to_host` (device to pinned host memory) are labs in the usual
shape: one request's KV, scattered over a paged pool, gathered into one contiguous buffer with many
16-token copies, fewer 128-token copies, or one gather kernel. `paging` builds the paged pools and the
page-size sweep, `kv_quant` the int8 / fp8 / int4 KV quantizers and their error study, `calculators`
the KV-size and transfer-time arithmetic, `book_check` the book's numbers against ours, `solutions`
the exercise answer.
"""
LABS = ["kv_to_host", "kv_transfer", "paged_decode"]    # every other module here is a helper
