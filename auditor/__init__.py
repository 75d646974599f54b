"""iam-audit: audit AWS IAM policies against the rules and the vendors' documented baselines."""

__version__ = "0.1.0"
