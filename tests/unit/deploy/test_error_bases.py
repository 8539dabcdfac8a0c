"""One error base per package: every exception a package defines derives from its base, so a caller
that handles "this package refused" never catches a programming error (a bare ValueError) by accident."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

BASES = {
    "epd_common": "epd_common.errors.CommonError",
    "epd_records": "epd_records.errors.RecordError",
    "epd_connector": "epd_connector.errors.ConnectorError",
    "epd_ingest": "epd_ingest.errors.IngestError",
    "epd_intensity": "epd_intensity.errors.IntensityError",
    "epd_footprint": "epd_footprint.errors.FootprintError",
    "epd_publisher": "epd_publisher.errors.PublisherError",
    "epd_gateway": "epd_gateway.errors.GatewayError",
    "epd_portal": "epd_portal.errors.PortalError",
}
# Modules that start a service or a CLI when imported are not imported here.
SKIP = ("__main__",)


def defined_exceptions(package: str) -> list[type[BaseException]]:
    root = importlib.import_module(package)
    found = []
    for info in pkgutil.walk_packages(root.__path__, prefix=f"{package}."):
        if info.name.rsplit(".", 1)[-1] in SKIP:
            continue
        module = importlib.import_module(info.name)
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if issubclass(obj, BaseException) and obj.__module__ == module.__name__:
                found.append(obj)
    return found


@pytest.mark.parametrize("package", sorted(BASES))
def test_every_exception_a_package_defines_derives_from_its_base(package: str):
    module_name, _, name = BASES[package].rpartition(".")
    base = getattr(importlib.import_module(module_name), name)
    strays = [f"{e.__module__}.{e.__qualname__}" for e in defined_exceptions(package) if not issubclass(e, base)]
    assert not strays, f"{package}: derive these from {BASES[package]}: {strays}"
