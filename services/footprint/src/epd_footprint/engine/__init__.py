"""Pure matrix-based value-chain engine (no I/O besides reading a product-system file)."""

from .errors import ProductSystemError, Reason
from .gwp_sets import BUILT_IN as GWP_SETS
from .live import ChangeSet, LiveSystem
from .loader import load_file, load_text, parse_process, parse_system
from .matrices import CompiledSystem, compile_system
from .model import ProductSystem
from .pcr import CategoryRule, check_pcr
from .results import INDICATORS, MODULES, ProductFootprint, footprint, gwp_table
from .solve import SystemResults, solve_system
from .stream import iter_footprint_json, iter_footprints, write_json

#: What the engine computes, as recorded with every EPD version it makes (audit snapshots): a result
#: reproduces exactly under the same engine version. 2: GWP by gas and origin, the unit vocabulary,
#: conditioning-limited digits.
ENGINE_VERSION = "2"


def compute(system: ProductSystem, products: list[str] | None = None, detail: bool = True) -> list[ProductFootprint]:
    """Footprints per declared unit for `products` (default: every declared product)."""
    results = solve_system(compile_system(system))
    wanted = products if products is not None else list(system.products)
    return list(iter_footprints(results, wanted, detail))


__all__ = [
    "ENGINE_VERSION",
    "GWP_SETS",
    "INDICATORS",
    "MODULES",
    "CategoryRule",
    "ChangeSet",
    "CompiledSystem",
    "LiveSystem",
    "ProductFootprint",
    "ProductSystem",
    "ProductSystemError",
    "Reason",
    "SystemResults",
    "check_pcr",
    "compile_system",
    "compute",
    "footprint",
    "gwp_table",
    "iter_footprint_json",
    "iter_footprints",
    "load_file",
    "load_text",
    "parse_process",
    "parse_system",
    "solve_system",
    "write_json",
]
