"""Chapter 20: automatic tuning (exhaustive, random, model-based search), propose → verify → keep, and
cluster-scale arithmetic."""
LABS = ["candidates"]    # every other module here is a helper
