"""The videoctl command line: one Typer app, and the one error → exit-code boundary."""

from __future__ import annotations

import sys
import traceback
from typing import Annotated

import typer

from videoctl import __version__
from videoctl.commands import _render as output
from videoctl.commands import (
    config,
    db,
    demo,
    events,
    infra,
    jobs,
    playback,
    quality,
    r2,
    run_job,
    scan,
    serve,
    stats,
    submit,
    upload,
    video,
)
from videoctl.commands import reconcile as reconcile_command
from videoctl.domain.errors import Interrupted, UsageError, VideoctlError
from videoctl.settings import environment_scrubber

app = typer.Typer(
    name="videoctl",
    help="Run a video-transcoding pipeline on AWS Batch, with Postgres as the source of truth.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"videoctl {__version__}")
        raise typer.Exit()


@app.callback()
def _global(
    json_: Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")] = False,
    verbose: Annotated[int, typer.Option("-v", "--verbose", count=True, help="More detail; -v shows tracebacks.")] = 0,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    # main() already saw a --json anywhere on the line (after a subcommand too).
    output.STATE.json = output.STATE.json or json_
    output.STATE.verbose = max(output.STATE.verbose, verbose)


app.add_typer(video.app, name="video")
app.add_typer(upload.app, name="upload")
app.add_typer(jobs.app, name="jobs")
app.add_typer(config.app, name="config")
app.add_typer(db.app, name="db")
app.add_typer(r2.app, name="r2")
app.add_typer(infra.app, name="infra")
app.add_typer(events.app, name="events")
app.command("submit")(submit.submit)
app.command("run-job")(run_job.run_job_command)
app.command("scan-stuck")(scan.scan_stuck)
app.command("stats")(stats.stats)
app.command("quality")(quality.quality)
app.command("demo")(demo.demo)
app.command("reconcile")(reconcile_command.reconcile)
app.command("serve")(serve.serve)
app.command("playback")(playback.playback)


def main(argv: list[str] | None = None) -> None:
    args = _container_args(sys.argv[1:] if argv is None else argv)
    # Decided before parsing, so that even a usage error comes out as JSON.
    output.STATE.json = "--json" in args
    output.STATE.verbose = sum(a.count("v") for a in args if a.startswith("-v") and set(a[1:]) == {"v"})
    try:
        result = app(args=args, prog_name="videoctl", standalone_mode=False)
    except VideoctlError as exc:
        _fail(exc)
    except typer.TyperException as exc:  # the vendored click's usage errors
        if output.STATE.json:
            _fail(UsageError(exc.format_message()))
        show = getattr(exc, "show", None)
        show() if show else output.stderr.print(exc.format_message())
        sys.exit(exc.exit_code)
    except (KeyboardInterrupt, typer.Abort):
        _fail(Interrupted())
    except Exception as exc:  # the boundary: nothing escapes as a bare traceback
        _fail(VideoctlError(f"unexpected error: {type(exc).__name__}: {exc}", hint="rerun with -v for the traceback"))
    sys.exit(result if isinstance(result, int) else 0)


def _container_args(args: list[str]) -> list[str]:
    """The Batch image's entrypoint is `videoctl run-job`; a job definition whose command
    repeats it (`videoctl run-job Ref::job_id`, readable in the console) arrives here as
    `run-job videoctl run-job ID`."""
    if args[:3] == ["run-job", "videoctl", "run-job"]:
        return args[2:]
    return args


def _fail(exc: VideoctlError) -> None:
    # The last line of defence: whatever raised it, no secret set in the environment
    # leaves here in a message, a hint or a traceback (a library quoting a password).
    scrub = environment_scrubber()
    if output.STATE.verbose and not output.STATE.json:
        sys.stderr.write(scrub("".join(traceback.format_exception(exc.__cause__ or exc))))
    exc.message = scrub(exc.message)
    exc.hint = scrub(exc.hint) if exc.hint else exc.hint
    output.render_error(exc)
    sys.exit(exc.exit_code)
