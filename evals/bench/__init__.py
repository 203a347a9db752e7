"""`rag bench`: speed and quality measurements (options, sections, typed results, reports)."""
