"""Running the command line in-process (import as ``from cli_helpers import run``)."""

from nengo_softlif.experiments.cli import main


def run(capsys, *argv):
    """``main(argv)``: (exit code, stdout, stderr); argparse errors included."""
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exit_:
        code = exit_.code
    out = capsys.readouterr()
    return code, out.out, out.err
