"""Generate Python and .pyi code for proto/epd/v1 into services/common/src (pinned grpcio-tools).

Usage: gen_proto.py OUT_DIR   (make proto writes into services/common/src; make proto-check
writes into a temporary folder and compares).
"""

from __future__ import annotations

import pathlib
import sys

import grpc_tools
from grpc_tools import protoc

ROOT = pathlib.Path(__file__).resolve().parents[1]
PROTO_ROOT = ROOT / "proto"


def main(out_dir: str) -> int:
    out = pathlib.Path(out_dir)
    (out / "epd" / "v1").mkdir(parents=True, exist_ok=True)
    include = pathlib.Path(grpc_tools.__file__).parent / "_proto"
    files = sorted(str(p.relative_to(PROTO_ROOT)) for p in (PROTO_ROOT / "epd" / "v1").glob("*.proto"))
    args = ["protoc", f"-I{PROTO_ROOT}", f"-I{include}", f"--python_out={out}", f"--pyi_out={out}", *files]
    rc = protoc.main(args)
    for pkg in (out / "epd", out / "epd" / "v1"):
        init = pkg / "__init__.py"
        if not init.exists():
            init.write_text('"""Generated protobuf package (make proto); do not edit."""\n')
    (out / "epd" / "py.typed").touch()  # the generated .pyi stubs are the package's types (PEP 561)
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
