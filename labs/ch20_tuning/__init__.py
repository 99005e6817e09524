"""Chapter 20: automatic tuning (exhaustive, random, model-based search), propose → verify → keep, and
cluster-scale arithmetic."""
NOT_LABS = ("_kernel", "space", "objectives", "search", "verify", "cluster", "serving", "book_check",
            "solutions")
