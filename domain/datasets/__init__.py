"""CSV datasets."""
