"""Reporters: pure functions ``render(report) -> str``; only the CLI writes files."""
