"""Products, variants, categories, attributes, certifications, stock and prices."""
