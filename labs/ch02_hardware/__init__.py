"""Chapter 2 labs: the memory hierarchy by working-set sweep, tensor-core precision ratios, interconnect arithmetic.

`cache_ladder` is the measured lab (read a buffer R times; GB/s against buffer size); `sweep` runs it over
sizes declared as data and draws the cliffs; `calculators` holds the link and NVL72 arithmetic and the
precision table; `book_check` compares with the book; `solutions` answers the exercise.
"""
LABS = ["cache_ladder"]    # every other module here is a helper
