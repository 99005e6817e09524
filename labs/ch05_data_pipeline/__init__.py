"""Chapter 5 labs: storage and the data pipeline (small files vs shards, vectorized transforms, DataLoader).

`transforms` is a lab in the usual shape (tensor in, tensor out). The storage and loader experiments time
file reads and a whole input pipeline, which are not tensor operations: `storage` and `loader` run them
with pl.bench and return perflab Tables, each variant checked first (same bytes, same batches).
`calculators` holds the chapter's back-of-envelope models, `book_check` the book's numbers against ours,
`solutions` the exercise answer.
"""
LABS = ["transforms"]    # every other module here is a helper
