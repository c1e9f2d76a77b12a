"""Command-line options of ``python -m bench``: sizes and repetitions of every scenario."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Options:
    """Sizes and repetitions; the defaults are the full run (a few minutes on 2 cores)."""

    reps: int = 5
    warmup: int = 1
    steps: int = 40
    fanout: int = 200
    concurrent: int = 100
    seq_runs: int = 50
    clients: int = 8
    clients_high: int = 32
    per_client: int = 25
    parts: tuple[str, ...] = ("raw", "keel")
    ray: bool = True
    memory_db: bool = False
    quick: bool = False
    run_timeout: float = 60.0
    webhook_topology: str = "processes"
    workers: int = 1
    capacity_clients: int = 32
    capacity_runs: int = 192
    capacity_slots: tuple[int, ...] = (2, 4)
    webhook_src: tuple[str, ...] = ()
    webhook_rounds: int = 1
    only_webhook: bool = False
    capacity: bool = True


QUICK = Options(
    reps=1,
    warmup=1,
    steps=20,
    fanout=50,
    concurrent=30,
    seq_runs=15,
    per_client=5,
    quick=True,
    run_timeout=20.0,
    capacity_runs=96,
)


def _slot_list(text: str) -> tuple[int, ...]:
    """Parse ``--capacity-slots`` (``2,4``; ``0`` for none) into the slot counts to measure."""
    try:
        counts = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a comma-separated list of integers: {text!r}"
        ) from None
    if any(count < 0 for count in counts):
        raise argparse.ArgumentTypeError(f"slot counts must be at least 1 (0 for none): {text!r}")
    return tuple(count for count in counts if count > 0)


def parse_options(argv: list[str] | None = None) -> Options:
    """Parse ``argv`` into :class:`Options` (``--quick`` changes the defaults, flags override)."""
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Raw Temporal baselines and Keel scenarios, on one dev server, as tables.",
    )
    parser.add_argument("--quick", action="store_true", help="a fast smoke run (~30 s)")
    parser.add_argument("--reps", type=int, help="recorded repetitions per scenario")
    parser.add_argument("--warmup", type=int, help="unrecorded repetitions first")
    parser.add_argument("--steps", type=int, help="steps of the sequential chains")
    parser.add_argument("--fanout", type=int, help="width of the fan-out / for_each")
    parser.add_argument("--concurrent", type=int, help="runs started at once")
    parser.add_argument("--seq-runs", type=int, help="runs for sequential p50/p99")
    parser.add_argument("--clients", type=int, help="concurrent clients for throughput")
    parser.add_argument("--clients-high", type=int, help="the higher client count (no collapse)")
    parser.add_argument(
        "--webhook-topology",
        choices=["processes", "process", "in-process"],
        help="serve the webhook scenarios from `keel api` + `keel worker` processes (the "
        "default, as `keel up` runs them), from one child process with the API and a worker "
        "(eager start, as `keel up` used to), or inside the benchmark's own process",
    )
    parser.add_argument(
        "--workers", type=int, help="`keel worker` processes for the webhook scenarios (1)"
    )
    parser.add_argument(
        "--capacity-clients", type=int, help="closed-loop clients of the capacity target (32)"
    )
    parser.add_argument(
        "--capacity-runs", type=int, help="runs per repetition of the capacity target"
    )
    parser.add_argument(
        "--capacity-slots",
        type=_slot_list,
        help="KEEL_WORKER_MAX_ACTIONS of the capacity target's fixed-slot pairs of measurements, "
        "comma-separated, in which each worker stands for a machine that carries that many "
        "actions at once (2,4; 0 skips them)",
    )
    parser.add_argument(
        "--no-capacity", action="store_true", help="skip the 1-vs-2 worker capacity target"
    )
    parser.add_argument(
        "--webhook-src",
        action="append",
        metavar="SRC",
        help="a src/ folder of Keel for the webhook service process; give two (old and new) "
        "to alternate them in one run against the same raw floor",
    )
    parser.add_argument(
        "--webhook-rounds",
        type=int,
        help="rounds of the webhook scenarios (sources alternate)",
    )
    parser.add_argument("--only-webhook", action="store_true", help="the same as --only webhook")
    parser.add_argument("--per-client", type=int, help="runs per client per repetition")
    parser.add_argument("--run-timeout", type=float, help="seconds before a run counts as stuck")
    parser.add_argument(
        "--only",
        choices=["raw", "keel", "webhook", "capacity"],
        help="run only the raw part, the Keel part, the webhook targets (their raw floor, the "
        "webhook scenarios and the capacity target) or the capacity target alone",
    )
    parser.add_argument("--no-ray", action="store_true", help="skip the Ray executor scenario")
    parser.add_argument(
        "--memory-db", action="store_true", help="dev server state in memory, not a temp file"
    )
    args = parser.parse_args(argv)
    base = QUICK if args.quick else Options()
    overrides = {
        name: getattr(args, name)
        for name in (
            "reps",
            "warmup",
            "steps",
            "fanout",
            "concurrent",
            "seq_runs",
            "clients",
            "clients_high",
            "per_client",
            "webhook_rounds",
            "run_timeout",
            "workers",
            "capacity_clients",
            "capacity_runs",
            "capacity_slots",
        )
        if getattr(args, name) is not None
    }
    parts = {"raw": ("raw",), "keel": ("keel",), "capacity": ("capacity",)}.get(
        args.only or "", base.parts
    )
    for name in ("workers", "capacity_clients", "capacity_runs"):
        if overrides.get(name, 1) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    return replace(
        base,
        **overrides,
        parts=parts,
        ray=not args.no_ray,
        memory_db=args.memory_db,
        webhook_topology=args.webhook_topology or base.webhook_topology,
        webhook_src=tuple(args.webhook_src or ()),
        only_webhook=args.only_webhook or args.only == "webhook",
        capacity=not args.no_capacity,
    )
