"""arq job functions, one module per area. Each takes ids, is idempotent, and owns its
transaction."""
