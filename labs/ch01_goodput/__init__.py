"""Chapter 1 labs: goodput of a small training loop, and the chapter's back-of-envelope arithmetic.

`train_loop` is the one measured lab (a stalled loop, its fixes, and the useful compute alone).
`stopwatch` labels where a run's time went, `calculators` holds the FLOP / memory / goodput models,
`book_check` compares them with the book, `solutions` answers the exercise.
"""
LABS = ["train_loop"]    # every other module here is a helper
