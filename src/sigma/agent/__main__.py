"""`python -m sigma.agent [--config-file FILE]`: the agent as the systemd unit runs it,
configured by the environment and the config file only, without the CLI's imports."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    # httpx's optional CLI (rich, click, pygments) and httpcore's optional trio support are never
    # used here; kept out of this process they save ~8 MB RSS (both handle the ImportError)
    for name in ("httpx._main", "trio"):
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]
    from sigma.agent.config import ConfigError, load
    from sigma.agent.runner import run

    args = list(sys.argv[1:] if argv is None else argv)
    config_file = None
    if args[:1] in (["-h"], ["--help"]):
        print(
            "usage: python -m sigma.agent [--config-file FILE]\n"
            "Settings come from the environment "
            "(SIGMA_API_URL, SIGMA_API_KEY, AGENT_INTERVAL, ...)\n"
            "and the config file (default /etc/sigma/agent.env). See `sigma agent run --help`."
        )
        return 0
    if len(args) == 2 and args[0] == "--config-file":
        config_file = args[1]
    elif args:
        print(
            f"error: unexpected arguments {args}; use `sigma agent run` for flags", file=sys.stderr
        )
        return 2
    try:
        cfg = load(config_file=config_file)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return run(cfg)


if __name__ == "__main__":
    sys.exit(main())
