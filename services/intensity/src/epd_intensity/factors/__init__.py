"""Emission factor library: versioned sets from YAML, selection by region and year."""

from epd_intensity.factors.loader import DATA_DIR, FactorDataError, load_factor_set, load_library
from epd_intensity.factors.model import Factor, FactorLibrary, FactorSet, GwpSet
from epd_intensity.factors.selection import FactorMissing, FactorSelection, region_chain, select_factor

__all__ = [
    "DATA_DIR",
    "Factor",
    "FactorDataError",
    "FactorLibrary",
    "FactorMissing",
    "FactorSelection",
    "FactorSet",
    "GwpSet",
    "load_factor_set",
    "load_library",
    "region_chain",
    "select_factor",
]
