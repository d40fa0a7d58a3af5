"""Entry point: ``hwloop``. User errors print one line and exit 2; Ctrl-C exits 130."""

from __future__ import annotations

import logging
import sys

import click

from fpga_targets import TargetError
from hwloop import HwloopError, __version__
from hwloop.cli import (
    arch,
    bops,
    cache,
    calibrate,
    compress,
    data,
    predict,
    search,
    surrogate,
    targets,
    tune,
)
from surrogates import FeatureError, SurrogateError
from synth_cache import CacheError


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="hwloop")
@click.option("-v", "--verbose", count=True, help="More log output (-vv: debug).")
def cli(verbose: int) -> None:
    """Hardware-in-the-loop neural-architecture codesign for FPGAs."""
    logging.basicConfig(
        level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    logging.getLogger("hwloop").setLevel(logging.DEBUG if verbose else logging.INFO)
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING if verbose < 2 else optuna.logging.INFO)


cli.add_command(targets.targets)
cli.add_command(arch.arch)
cli.add_command(bops.bops)
cli.add_command(data.data)
cli.add_command(search.search)
cli.add_command(cache.cache)
cli.add_command(calibrate.calibrate)
cli.add_command(surrogate.surrogate)
cli.add_command(predict.predict)
cli.add_command(tune.tune)
cli.add_command(compress.compress)

_INTERRUPTED = "hwloop: interrupted; everything written so far is kept (re-run to resume)"


def main(argv: list[str] | None = None) -> int:
    try:
        rv = cli.main(args=argv, prog_name="hwloop", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        return int(exc.exit_code)
    except (click.exceptions.Abort, KeyboardInterrupt):
        print(_INTERRUPTED, file=sys.stderr)
        return 130
    except (HwloopError, TargetError, CacheError, SurrogateError, FeatureError) as exc:
        print(f"hwloop: error: {exc}", file=sys.stderr)
        return 2
    return int(rv) if isinstance(rv, int) else 0


def entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entry()
