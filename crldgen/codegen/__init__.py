"""Code generation: model -> module source text (no compiling, no importing)."""

from .generator import FORMAT, cache_key, generate_source, module_name, parse_header
from .writer import write_atomic

__all__ = ["FORMAT", "cache_key", "generate_source", "module_name", "parse_header", "write_atomic"]
