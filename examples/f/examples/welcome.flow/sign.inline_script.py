def main(greeting: str, signature: str) -> str:
    """Sign a greeting."""
    return f"{greeting} (from {signature})"
