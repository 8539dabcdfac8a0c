"""Pure matrix-based value-chain engine (no I/O besides reading a product-system file)."""

from .errors import ProductSystemError, Reason
from .live import ChangeSet, LiveSystem
from .loader import load_file, load_text, parse_process, parse_system
from .matrices import CompiledSystem, compile_system
from .model import ProductSystem
from .results import INDICATORS, MODULES, ProductFootprint, footprint
from .solve import SystemResults, solve_system


def compute(system: ProductSystem, products: list[str] | None = None, detail: bool = True) -> list[ProductFootprint]:
    """Footprints per declared unit for `products` (default: every declared product)."""
    results = solve_system(compile_system(system))
    wanted = products if products is not None else list(system.products)
    return [footprint(results, p, detail) for p in wanted]


__all__ = [
    "INDICATORS",
    "MODULES",
    "ChangeSet",
    "CompiledSystem",
    "LiveSystem",
    "ProductFootprint",
    "ProductSystem",
    "ProductSystemError",
    "Reason",
    "SystemResults",
    "compile_system",
    "compute",
    "footprint",
    "load_file",
    "load_text",
    "parse_process",
    "parse_system",
    "solve_system",
]
