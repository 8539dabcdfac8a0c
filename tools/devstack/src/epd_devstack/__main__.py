"""`epd-stack up [--brokers N] | down | status | env`: the local stack without Docker."""

from __future__ import annotations

import argparse
import sys

from . import stack
from .procs import StartupError


def main() -> int:
    parser = argparse.ArgumentParser(prog="epd-stack")
    parser.add_argument("command", choices=["up", "down", "status", "env", "run", "stop"])
    parser.add_argument("--brokers", type=int, default=1, choices=[1, 3])
    parser.add_argument("--speed", type=float, default=240.0, help="run: simulated seconds per real second")
    parser.add_argument("--duration", default="12h", help="run: simulated span per plant")
    parser.add_argument(
        "--drift",
        action="append",
        default=None,
        help="run: drift at baotou-smelter, e.g. roasting.electricity=+20%%@4h (repeatable)",
    )
    args = parser.parse_args()
    try:
        if args.command == "up":
            comps = stack.up(args.brokers)
            for comp in comps.values():
                print("  " + comp.describe())
        elif args.command == "run":
            return run_demo(args)
        elif args.command == "stop":
            from .demo.services import ServiceGroup

            ServiceGroup(stack.RUN / "demo").stop_all_from_pid_files()
            stack.down()
            print("services and stack stopped")
        elif args.command == "down":
            stack.down()
            print("stack stopped")
        elif args.command == "status":
            for comp in stack.components(args.brokers).values():
                print("  " + comp.describe())
        else:
            comps = stack.components(args.brokers)
            # The admin principal (a super user): for provisioning from an operator's shell, never a service.
            for name, value in comps["kafka"].env().items():
                print(f"{name}={value}")
            print(f"EPD_PG_DSN={comps['postgres'].dsn}")
            print(f"EPD_MQTT_URL=mqtts://127.0.0.1:{comps['mosquitto'].port}")
            print(f"EPD_CONNECTOR_MQTT_CA_FILE={comps['mosquitto'].ca.cert_file}")
    except StartupError as exc:
        print(f"stack: {exc}", file=sys.stderr)
        return 1
    return 0


def run_demo(args) -> int:
    """`make run`: the whole system with simulated plants and a live console until Ctrl-C."""
    from .demo.console import run_console
    from .demo.system import DemoOptions, DemoSystem

    drift = tuple(args.drift) if args.drift else DemoOptions.drift
    system = DemoSystem(DemoOptions(speed=args.speed, duration=args.duration, drift=drift))
    try:
        system.start()
        run_console(system)
    except KeyboardInterrupt:
        print("stopping")
    finally:
        # Ctrl-C ends everything make run started: services, simulators, Prometheus and the stack.
        system.stop()
        stack.down()
        print("everything stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
