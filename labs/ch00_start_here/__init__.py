"""Chapter 0 labs: a first lab to learn how perflab reports a measurement."""
NOT_LABS = ("book_check",)
