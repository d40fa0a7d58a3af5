"""Entry point: ``hwloop``. User errors print one line and exit 2; Ctrl-C exits 130."""

from __future__ import annotations

import importlib
import logging
import sys
from typing import Any

import click

from hwloop import __version__

# name -> (module, short help). Commands are imported when run, not to list them: importing
# them all (torch, scipy, SQLAlchemy) made `hwloop --help` take 3 s. A test checks these
# lines against each command's docstring.
COMMANDS: dict[str, tuple[str, str]] = {
    "targets": (
        "hwloop.cli.targets",
        "List the FPGA targets: built-in, files in $HWLOOP_TARGETS, and --file files.",
    ),
    "arch": (
        "hwloop.cli.arch",
        "Architecture specs: the built-ins, and trained models imported as specs.",
    ),
    "bops": (
        "hwloop.cli.bops",
        "Bit operations (BOPs) of ARCH, an arch spec JSON file or a built-in arch name.",
    ),
    "data": ("hwloop.cli.data", "Build and cache task datasets."),
    "search": (
        "hwloop.cli.search",
        "Multi-objective architecture search (NSGA-II by default) minimising the validation "
        "metric, BOPs and, with hardware objectives, the predicted LUT / DSP / latency.",
    ),
    "cache": ("hwloop.cli.cache", "The synthesis cache: every real synthesis run, never lost."),
    "calibrate": (
        "hwloop.cli.calibrate",
        "Synthesise batches of designs for a target and flow into the cache.",
    ),
    "surrogate": (
        "hwloop.cli.surrogate",
        "Resource surrogates (XGBoost) trained on the synthesis cache.",
    ),
    "predict": (
        "hwloop.cli.predict",
        "Predicted LUT / FF / DSP / BRAM / latency of ARCH (a built-in or an arch JSON) on a "
        "target, with 80 % intervals.",
    ),
    "tune": (
        "hwloop.cli.tune",
        "Tune the training hyperparameters of ARCH (a built-in name, an arch .json file, or "
        "OUT/pareto.json:TRIAL from a search).",
    ),
    "init": (
        "hwloop.cli.run",
        "Write a commented experiment file inferred from a data file: shapes, classification or "
        "regression (and the number of classes), a space that fits the input's rank, and sizes "
        "that finish in minutes on a laptop.",
    ),
    "run": (
        "hwloop.cli.run",
        "Run an experiment file: global search, then local search (QAT x pruning) of the best "
        "front members, then real synthesis of the chosen models; one progress display.",
    ),
    "mcp": (
        "hwloop.cli.mcp",
        "Serve hwloop over the Model Context Protocol on stdin / stdout (pip install "
        "'hwloop[mcp]'): tools init, run, status, predict, arch_list, arch_show, targets, cache.",
    ),
    "compress": (
        "hwloop.cli.compress",
        "Quantisation-aware training of ARCH (Brevitas, power-of-two scales) at each of "
        "--bits, each followed by iterative global magnitude pruning with fine-tuning.",
    ),
}


_QUICK = ("targets", "arch", "bops")  # commands that never touch optuna: start fast


class LazyGroup(click.Group):
    """A click group whose subcommands (:data:`COMMANDS`) are imported when asked for."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        spec = COMMANDS.get(cmd_name)
        if spec is None:
            return None
        command = getattr(importlib.import_module(spec[0]), cmd_name)
        assert isinstance(command, click.Command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        limit = formatter.width - 6 - max(len(n) for n in COMMANDS)
        names = self.list_commands(ctx)
        # a placeholder command per name shortens the text exactly as click does
        rows = [(n, click.Command(n, help=COMMANDS[n][1]).get_short_help_str(limit)) for n in names]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, prog_name="hwloop")
@click.option("-v", "--verbose", count=True, help="More log output (-vv: debug).")
@click.pass_context
def cli(ctx: click.Context, verbose: int) -> None:
    """Hardware-in-the-loop neural-architecture codesign for FPGAs."""
    logging.basicConfig(
        level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    logging.getLogger("hwloop").setLevel(logging.DEBUG if verbose else logging.INFO)
    if ctx.invoked_subcommand not in _QUICK:  # optuna logs every trial at INFO unless told
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING if verbose < 2 else optuna.logging.INFO)


# the user errors of each package: one line and exit 2 (looked up only once one is raised, in
# the modules it came from, so that the entry point imports none of them)
_USER_ERRORS = (
    ("hwloop", "HwloopError"),
    ("fpga_targets", "TargetError"),
    ("synth_cache", "CacheError"),
    ("surrogates", "SurrogateError"),
    ("surrogates", "FeatureError"),
)


def _user_error(exc: BaseException) -> bool:
    for module, name in _USER_ERRORS:
        mod: Any = sys.modules.get(module)
        if mod is not None and isinstance(exc, getattr(mod, name)):
            return True
    return False


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
    except Exception as exc:
        if not _user_error(exc):
            raise
        print(f"hwloop: error: {exc}", file=sys.stderr)
        return 2
    return int(rv) if isinstance(rv, int) else 0


def entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entry()
