"""The HTTP layer: Litestar route handlers over the core modules."""
