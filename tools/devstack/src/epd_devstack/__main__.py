"""`epd-stack up [--brokers N] | down | status | env`: the local stack without Docker."""

from __future__ import annotations

import argparse
import sys

from . import stack
from .procs import StartupError


def main() -> int:
    parser = argparse.ArgumentParser(prog="epd-stack")
    parser.add_argument("command", choices=["up", "down", "status", "env"])
    parser.add_argument("--brokers", type=int, default=1, choices=[1, 3])
    args = parser.parse_args()
    try:
        if args.command == "up":
            comps = stack.up(args.brokers)
            for comp in comps.values():
                print("  " + comp.describe())
        elif args.command == "down":
            stack.down()
            print("stack stopped")
        elif args.command == "status":
            for comp in stack.components(args.brokers).values():
                print("  " + comp.describe())
        else:
            comps = stack.components(args.brokers)
            print(f"EPD_KAFKA_BOOTSTRAP={comps['kafka'].bootstrap}")
            print(f"EPD_PG_DSN={comps['postgres'].dsn}")
            print(f"EPD_MQTT_URL=mqtt://127.0.0.1:{comps['mosquitto'].port}")
    except StartupError as exc:
        print(f"stack: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
