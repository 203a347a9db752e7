"""`rag bench`: speed and quality measurements (options, sections, typed results, reports).

The product never imports this package; it only measures the product.
"""
