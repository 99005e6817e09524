"""Chapter 0 labs: a first lab to learn how perflab reports a measurement."""
LABS = ["scale_shift"]    # every other module here is a helper
