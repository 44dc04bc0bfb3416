"""One module per `psft` subcommand, each with `add_parser(subparsers)` and `run(args) -> int`."""
