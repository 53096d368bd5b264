"""The ``tabdl`` command: train on a CSV, predict with a saved model, run the benchmarks.

    tabdl train data.csv --target y [--task auto|regression|classification] [--out model.tabdl]
    tabdl predict model.tabdl data.csv > predictions.csv
    tabdl bench [--quick]
    tabdl datasets

Every expected failure (a missing column, an unreadable file, a bad option) ends as one line on
stderr and a non-zero exit; ``TABDL_DEBUG=1`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import functools
import math
import os
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

__all__ = ["main", "infer_task"]

# Exit codes: 1 for a failed command, 2 for bad usage (argparse's own convention).
EXIT_ERROR = 1
EXIT_USAGE = 2

# An integer target with at most this many distinct values is taken as class labels.
_MAX_AUTO_CLASSES = 20


class CLIError(Exception):
    """A failure the user can fix; its message is printed as one line."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # argparse already printed usage and the error line
        return int(exit_.code or 0)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        with warnings.catch_warnings():  # restores showwarning on the way out
            if not os.environ.get("TABDL_DEBUG"):
                warnings.showwarning = _show_warning
            return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("tabdl: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError as err:
        if _stdout_reader_gone():
            # `tabdl predict m.tabdl x.csv | head`: the reader's choice, not an error. stdout then
            # points at devnull, so that Python's flush at exit stays quiet.
            _quiet_stdout()
            return 0
        print(f"tabdl: error: {_one_line(err)}", file=sys.stderr)  # another pipe (a FIFO --out)
        return EXIT_ERROR
    except Exception as err:
        if os.environ.get("TABDL_DEBUG"):
            raise
        print(f"tabdl: error: {_one_line(err)}", file=sys.stderr)
        return EXIT_ERROR


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """A warning as one line of the command's own: Python's format named runpy's frame
    ("<frozen runpy>:88: UserWarning: ..."), which means nothing to a command-line user."""
    kind = "" if category is UserWarning else f" ({category.__name__})"
    print(f"tabdl: warning{kind}: {' '.join(str(message).split())}", file=file or sys.stderr)


def _int_in(low: int, high: int | None = None):
    """An argparse type: an int in [low, high], refused by argparse naming the option (0 threads
    was dropped silently, -1 failed deep in torch, and a negative seed blamed the hold-out)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an int, got {text!r}") from None
        if value < low or high is not None and value > high:
            span = f">= {low}" if high is None else f"in [{low}, {high}]"
            raise argparse.ArgumentTypeError(f"must be an int {span}, got {value}")
        return value

    return parse


def _one_line(err: BaseException) -> str:
    msg = " ".join(str(err).split()) or type(err).__name__
    # Errors we raise, and the ValueErrors of the estimators, already read as sentences; anything
    # else gets its type so that "KeyError: 'x'" stays understandable.
    if isinstance(err, (CLIError, ValueError, FileNotFoundError)):
        return msg
    return f"{type(err).__name__}: {msg}"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tabdl", description="Deep learning on tabular data.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    t = sub.add_parser("train", help="fit a model on a CSV and save it")
    t.add_argument("csv", help="training data with a header row")
    t.add_argument("--target", required=True, help="name of the column to predict")
    t.add_argument(
        "--task",
        choices=["auto", "regression", "classification"],
        default="auto",
        help="auto: non-numeric targets, and integers with few levels, are classes",
    )
    t.add_argument("--out", default="model.tabdl", help="where to save the model (default: %(default)s)")
    t.add_argument(
        "--cat",
        default="",
        metavar="COLS",
        help="comma-separated columns to treat as categorical (e.g. integer codes)",
    )
    t.add_argument("--drop", default="", metavar="COLS", help="comma-separated columns to leave out (ids)")
    t.add_argument(
        "--weight",
        default=None,
        metavar="COL",
        help="column of row weights (sample_weight; not a feature); validation metrics are weighted too",
    )
    t.add_argument("--epochs", type=int, default=None, help="training epochs (default: the estimator's)")
    t.add_argument(
        "--n-bags",
        default="auto",
        metavar="N",
        help="nets trained and averaged: an int, or auto (5 up to 20,000 training rows, 1 from "
        "50,001, counted after the held-out part; 1 is the fastest) (default: %(default)s)",
    )
    t.add_argument(
        "--valid-fraction",
        type=float,
        default=0.2,
        help="share of rows held out to report validation metrics (default: %(default)s)",
    )
    t.add_argument("--seed", type=_int_in(0, 2**32 - 1), default=0, help="random seed (default: %(default)s)")
    t.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="show a progress bar (default: when stderr is a terminal)",
    )
    _threads_option(t)
    t.set_defaults(func=_train)

    pr = sub.add_parser("predict", help="predict a CSV with a saved model; CSV on stdout")
    pr.add_argument("model", help="a file written by `tabdl train` or est.save()")
    pr.add_argument("csv", help="rows to predict, with the training columns (extra columns are ignored); - reads stdin")
    pr.add_argument("--out", default="-", help="output CSV (default: stdout)")
    _threads_option(pr)
    pr.set_defaults(func=_predict)

    b = sub.add_parser("bench", help="run benchmarks/run.py (tables and plots in benchmarks/results)")
    b.add_argument("--quick", action="store_true", help="row subsets: minutes instead of the full run")
    b.add_argument(
        "--only",
        nargs="+",
        metavar="NAME",
        help="run only these benchmark modules (a partial report: written to a partial/ folder)",
    )
    b.add_argument(
        "--out",
        default=None,
        help="results folder (default: benchmarks/results; benchmarks/results/quick with --quick; "
        "a partial/ folder below either with --only)",
    )
    b.add_argument("--threads", type=_int_in(1), default=None, help="cap torch/OpenMP/BLAS threads")
    b.add_argument("--jobs", type=_int_in(1), default=None, help="run modules in this many worker processes at once")
    b.set_defaults(func=_bench)

    d = sub.add_parser("datasets", help="list the dataset cards")
    d.set_defaults(func=_datasets)
    return p


# >>> train


def infer_task(y) -> str:
    """'classification' for non-numeric or boolean targets and integers with few levels."""
    import numpy as np
    import pandas as pd

    y = pd.Series(y).dropna()
    if not pd.api.types.is_numeric_dtype(y) or pd.api.types.is_bool_dtype(y):
        return "classification"
    values = y.to_numpy(dtype=float)
    if np.all(np.mod(values, 1) == 0) and y.nunique() <= _MAX_AUTO_CLASSES:
        return "classification"
    return "regression"


def _threads_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--threads",
        type=_int_in(1),
        default=None,
        help="cap torch's CPU threads (default: torch's own, every core)",
    )


def _capped_threads(func):
    """Run a command with torch's CPU threads capped at ``--threads``, restored afterwards (main()
    can run in a caller's process). Why: torch takes every core, which competes with the other
    jobs of a shared machine."""

    @functools.wraps(func)
    def run(args: argparse.Namespace) -> int:
        if args.threads is None:
            return func(args)
        import torch

        before = torch.get_num_threads()
        torch.set_num_threads(args.threads)
        try:
            return func(args)
        finally:
            torch.set_num_threads(before)

    return run


@_capped_threads
def _train(args: argparse.Namespace) -> int:
    import numpy as np
    import pandas as pd
    from sklearn.model_selection import train_test_split

    from .estimators import TabularClassifier, TabularRegressor
    from .metrics import get_metric
    from .preprocess import categorical_column

    _check_out(args.out, args.csv)  # before training, not after it: a bad path would lose the model
    drop = _names(args.drop)
    cats = _names(args.cat)
    weight = _names(args.weight or "")
    raw = _read_csv(args.csv)
    # A headerless first column that --cat or --weight names is the user's; one that --drop
    # names goes anyway.
    df = _drop_index_column(raw, args.csv, keep=cats + weight)
    if args.target not in df.columns:
        raise CLIError(
            f"target column {args.target!r} not in {args.csv} (columns: {_columns(df)})"
            + _spaced([args.target], df.columns)
        )
    for opt, names in (("--drop", drop), ("--cat", cats), ("--weight", weight)):
        unknown = [c for c in names if c not in raw.columns]
        if unknown:
            raise CLIError(f"{opt} names {unknown}, not in {args.csv} (columns: {_columns(raw)})")
        if args.target in names:  # it was dropped from the features anyway: the option said something else
            what = "the weight must be another column" if opt == "--weight" else "list feature columns only"
            raise CLIError(f"{opt} names the target {args.target!r}; {what}")
    drop = [c for c in drop if c in df.columns]
    if not 0 < args.valid_fraction < 1:
        raise CLIError(f"--valid-fraction must be in (0, 1), got {args.valid_fraction}")
    if args.epochs is not None and args.epochs < 1:
        raise CLIError(f"--epochs must be >= 1, got {args.epochs}")
    n_bags = args.n_bags if args.n_bags == "auto" else int(args.n_bags) if args.n_bags.isdigit() else 0
    if not n_bags:
        raise CLIError(f"--n-bags must be auto or an int >= 1, got {args.n_bags!r}")

    missing = df[args.target].isna()
    if missing.all():
        raise CLIError(f"target column {args.target!r} has no values")
    if missing.any():
        print(f"tabdl: dropping {int(missing.sum())} rows with no {args.target!r}", file=sys.stderr)
        df = df[~missing]
        # What the gap made text (True/False read as objects) reads as its own type again
        df = df.assign(**{args.target: df[args.target].infer_objects()})
    w = None
    if len(weight) > 1:
        raise CLIError(f"--weight takes one column, got {weight}")
    if weight:
        if weight[0] in cats:
            raise CLIError(f"--weight names {weight[0]!r}, which --cat lists as a feature")
        w = pd.to_numeric(df[weight[0]], errors="coerce")
        bad = w.isna() | ~np.isfinite(w) | (w < 0)
        if bad.any():
            raise CLIError(
                f"--weight column {weight[0]!r} needs finite numbers >= 0; {int(bad.sum())} row(s) "
                f"are not, such as {df[weight[0]][bad].iloc[0]!r} (data row {bad[bad].index[0] + 1})"
            )
    X = df.drop(columns=[args.target, *drop, *weight])
    # --cat adds columns to those the dtype rule makes categorical (cat_features is the full
    # list). Not by casting them to strings: a column with a gap reads as float, and "7.0" would
    # not meet the 7 of a gapless CSV at predict; the preprocessor's keys make 7, 7.0 and "7" meet.
    X = _read_dates(X, [c for c in X.columns if c not in cats])
    cat_features = [c for c in X.columns if c in cats or categorical_column(X[c])]
    if X.shape[1] == 0:
        raise CLIError("no feature columns left besides the target")
    y = df[args.target]
    task = infer_task(y) if args.task == "auto" else args.task
    stray = _stray_text(y)
    if task == "regression" and not _is_numeric(y):
        raise CLIError(
            f"--task regression needs a numeric target; {args.target!r} is {y.dtype}"
            + (f", {_describe_stray(stray)}" if len(stray) else "")
        )
    if args.task == "auto" and len(stray) and y.nunique() > _MAX_AUTO_CLASSES:
        # A number column with a stray word reads as text: as classes it would be one per value.
        raise CLIError(
            f"target {args.target!r} reads as text, {_describe_stray(stray)}; fix or drop "
            "those rows, or pass --task classification to make every value a class"
        )
    v = y.to_numpy() if pd.api.types.is_float_dtype(y) else None
    if task == "classification" and v is not None and np.all((np.mod(v, 1) == 0) & (np.abs(v) < 2**53)):
        y = y.astype(np.int64)  # int codes with a gap read as float: labels 0 and 1, not 0.0 and 1.0

    # Stratified where every class has 2 rows and the held-out part room for one of each (a
    # 10-row, 3-class file fell to scikit-learn's "test_size = 2 should be greater or equal to
    # the number of classes"); else a plain random cut.
    n_valid = math.ceil(args.valid_fraction * len(y))
    stratify = (
        y
        if task == "classification"
        and y.value_counts().min() >= 2
        and n_valid >= y.nunique()
        and len(y) - n_valid >= y.nunique()
        else None
    )
    try:
        X_tr, X_va, y_tr, y_va = train_test_split(
            X, y, test_size=args.valid_fraction, random_state=args.seed, stratify=stratify
        )
        w_tr, w_va = (None, None) if w is None else (w.loc[y_tr.index].to_numpy(), w.loc[y_va.index].to_numpy())
    except ValueError as err:
        raise CLIError(f"cannot hold out {args.valid_fraction} of {len(X)} rows: {err}") from None
    if task == "classification":
        # A class too rare to stratify (one row) may land in the held-out part alone: the
        # estimator refuses validation labels it never trained on, so it trains on that row.
        unseen = ~y_va.isin(set(y_tr)).to_numpy()
        if unseen.any():
            X_tr, y_tr = pd.concat([X_tr, X_va[unseen]]), pd.concat([y_tr, y_va[unseen]])
            X_va, y_va = X_va[~unseen], y_va[~unseen]
            if w is not None:
                w_tr, w_va = np.concatenate([w_tr, w_va[unseen]]), w_va[~unseen]
        if len(X_va) == 0:
            raise CLIError(
                f"no validation rows left: each held-out row's class of {args.target!r} has no other row "
                f"({y.nunique()} classes in {len(y)} rows). Pass --task regression if it is a quantity, "
                "or give more rows per class"
            )

    if len(X_va) < 2:  # the estimator would say "eval_set: n_samples=1", an option never passed
        raise CLIError(
            f"--valid-fraction {args.valid_fraction} holds out {len(X_va)} of {len(X)} rows; "
            "validation needs at least 2: raise --valid-fraction"
        )
    for part, part_w in (("training", w_tr), ("validation", w_va)):
        if part_w is not None and not part_w.any():  # the estimator would name its sample_weight or eval_set
            raise CLIError(
                f"--weight column {weight[0]!r} is 0 on every {part} row ({len(part_w)} rows); "
                "give more rows a weight above 0, or change --valid-fraction or --seed"
            )

    progress = sys.stderr.isatty() if args.progress is None else args.progress
    params = dict(random_state=args.seed, verbose=int(progress), n_bags=n_bags, cat_features=cat_features)
    if args.epochs is not None:
        params["epochs"] = args.epochs
    # The held-out part is the estimator's validation set too: early stopping and best-weight
    # restoring look at the same rows the reported metrics come from.
    est = (TabularRegressor if task == "regression" else TabularClassifier)(**params)
    eval_set = (X_va, y_va.to_numpy()) if w is None else (X_va, y_va.to_numpy(), w_va)
    est.fit(X_tr, y_tr.to_numpy(), sample_weight=w_tr, eval_set=eval_set)

    print(
        f"task: {task}; target {args.target!r}; {len(X_tr)} training rows, {len(X_va)} validation rows"
        + (f"; rows weighted by {weight[0]!r}" if weight else "")
    )
    if task == "regression":
        pred = est.predict(X_va)
        scores = {m: get_metric(m)(y_va.to_numpy(dtype=float), pred, sample_weight=w_va) for m in ("rmse", "mae", "r2")}
    else:
        proba = est.predict_proba(X_va)
        codes = np.searchsorted(est.classes_, y_va.to_numpy())  # every class trained on (above)
        names = ["accuracy", "balanced_accuracy", "log_loss"]
        if len(np.unique(codes)) > 1:
            names.append("roc_auc")
        scores = {m: get_metric(m)(codes, proba, sample_weight=w_va) for m in names}
    for name, value in scores.items():
        print(f"validation {name}: {value:.4f}")
    est.save(args.out)
    print(f"saved: {args.out}")
    return 0


def _stray_text(y):
    """The values of a text target that are not numbers, when most values are (a stray "unknown"
    in a column of numbers makes pandas read the whole column as text); else none."""
    import pandas as pd

    values = y.dropna()
    if _is_numeric(y) or pd.api.types.is_bool_dtype(y) or not len(values):
        return values[:0]
    text = values[pd.to_numeric(values, errors="coerce").isna()]
    # Rare words, or a few placeholder words ("unknown", "?") beside mostly numbers: at 15% of
    # "unknown" the target trained as one class per number.
    placeholders = text.nunique() <= 5 and len(text) < 0.5 * len(values)
    return text if len(text) <= 0.1 * len(values) or placeholders else values[:0]


def _describe_stray(stray) -> str:
    import numpy as np

    first = stray.index[0]
    line = f" (data row {first + 1})" if isinstance(first, (int, np.integer)) else ""
    return f"because of {len(stray)} value(s) that are not numbers, such as {stray.iloc[0]!r}{line}"


def _is_numeric(y) -> bool:
    import pandas as pd

    return pd.api.types.is_numeric_dtype(y) and not pd.api.types.is_bool_dtype(y)


# >>> predict


@_capped_threads
def _predict(args: argparse.Namespace) -> int:
    import pandas as pd

    if args.out != "-":
        _check_out(args.out, args.csv, args.model)
    est = _load(args.model)
    if not hasattr(est, "predict"):
        raise CLIError(f"{args.model} holds {_a(type(est).__name__)}, which has no predict")
    source = _stdin_text() if args.csv == "-" else args.csv
    name = "stdin" if args.csv == "-" else args.csv
    df = _read_csv(source, name)
    X = _keep_category_text(_drop_index_column(df, name, keep=getattr(est, "feature_names_in_", ())), source, est)
    # Named here, with the file: the estimator's "X is missing column(s)" names neither.
    missing = [c for c in getattr(est, "feature_names_in_", ()) if c not in X.columns]
    if missing:
        raise CLIError(
            f"{name} lacks column(s) {missing} that {args.model} was trained on "
            f"(columns: {_columns(X)}){_spaced(missing, X.columns)}"
        )
    if hasattr(est, "predict_proba"):
        proba = est.predict_proba(X)
        # predict, not the argmax of proba: a saved classifier may carry a decision threshold
        # (threshold=0.3 or "auto"), and the labels must be those est.predict gives.
        out = pd.DataFrame({"prediction": est.predict(X)})
        for j, cls in enumerate(est.classes_):
            out[f"proba_{cls}"] = proba[:, j]
    else:
        pred = est.predict(X)
        out = pd.DataFrame(pred.reshape(len(X), -1))
        out.columns = ["prediction"] if out.shape[1] == 1 else [f"prediction_{j}" for j in out.columns]
    if args.out == "-":
        out.to_csv(sys.stdout, index=False)
        sys.stdout.flush()  # a reader that left early shows here, inside main's handler
    else:
        out.to_csv(args.out, index=False)
        print(f"wrote {len(out)} predictions to {args.out}", file=sys.stderr)
    return 0


# >>> files
def _stdout_reader_gone() -> bool:
    """Whether stdout is a pipe whose reading end is closed (POLLERR on its write end)."""
    import select
    import stat

    try:
        fd = sys.stdout.fileno()
        if not stat.S_ISFIFO(os.fstat(fd).st_mode):
            return False
        poller = select.poll()
        poller.register(fd, select.POLLOUT)
        return any(events & select.POLLERR for _, events in poller.poll(0))
    except (OSError, ValueError, AttributeError):  # no descriptor; no poll() on this platform
        return False


def _quiet_stdout() -> None:
    try:
        fd = os.open(os.devnull, os.O_WRONLY)
        os.dup2(fd, sys.stdout.fileno())
        os.close(fd)
    except (OSError, ValueError):  # a stdout without a file descriptor (StringIO, a notebook)
        pass


def _check_out(path: str, *inputs: str) -> None:
    """Refuse an --out that cannot be written, or that is one of the command's ``inputs`` (the
    CSV, the model): it was overwritten, and the training data or the model was lost for good.
    Before any work is done for it."""
    from .io import check_save_path

    try:
        check_save_path(path)
    except OSError as err:
        raise CLIError(f"--out: {err}") from None
    for source in inputs:
        try:
            same = source != "-" and os.path.samefile(path, source)
        except OSError:  # either one does not exist (yet): not the same file
            same = False
        if same:
            raise CLIError(f"--out {path} is the input file {source}, which it would overwrite; give another name")


def _a(name: str) -> str:
    return f"{'an' if name[:1] in 'AEIOU' else 'a'} {name}"


def _stdin_text():
    """stdin read once into memory: predict reads its CSV twice (see _keep_category_text).
    Decoded here as a file is (UTF-8, a BOM skipped): the text layer's surrogate escapes of
    other bytes failed later with "can't encode character '\\udce9'", naming nothing."""
    import io

    data = sys.stdin.buffer.read() if hasattr(sys.stdin, "buffer") else sys.stdin.read().encode()
    try:
        return io.StringIO(data.decode("utf-8-sig"))
    except UnicodeDecodeError as err:
        raise CLIError(f"cannot read stdin as CSV: {_one_line(err)}") from None


def _read_csv(source, path: str | None = None):
    """The CSV at ``source`` (a path, or a text buffer read from ``path``, which names it)."""
    import pandas as pd

    from .columns import _PANDAS_2

    path = source if path is None else path
    if isinstance(source, str):
        p = Path(source)
        if not p.exists():
            raise CLIError(f"no such file: {path}")
        if p.is_dir():
            raise CLIError(f"{path} is a folder, expected a CSV file")
    else:
        source.seek(0)
    try:
        # index_col=False: data lines that end in a comma the header lacks made pandas take the
        # first column as the index, and every column was read one place to the left, silently.
        # low_memory=False: types guessed over the whole file, not per 262k-row chunk (codes
        # read as ints in one chunk and as text in the next were two categories each).
        # float_precision="round_trip" on pandas 2: its fast parser read floats one ulp off, and a
        # value at the training median then sat on either side of the quantile scaler's tie (one
        # CSV, two predictions). pandas 3 round-trips by default and deprecates the argument.
        exact = {"float_precision": "round_trip"} if _PANDAS_2 else {}
        df = pd.read_csv(source, index_col=False, low_memory=False, **exact)
    except pd.errors.EmptyDataError:
        raise CLIError(f"{path} is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError, OSError) as err:
        sep = _other_separator(source) if isinstance(err, pd.errors.ParserError) else None
        hint = f" (tabdl reads comma-separated files; this one looks separated by {sep!r})" if sep else ""
        raise CLIError(f"cannot read {path} as CSV: {_one_line(err)}{hint}") from None
    if len(df) == 0:
        raise CLIError(f"{path} has a header but no rows")
    _check_unique_header(source, path)
    if df.shape[1] == 1 and (sep := _other_separator(source)):
        raise CLIError(
            f"{path} reads as the one column {str(df.columns[0])[:60]!r}: tabdl reads "
            f"comma-separated files, and this one looks separated by {sep!r}"
        )
    return df


def _check_unique_header(source, path: str) -> None:
    """Refuse a header that names a column twice. pandas renames the second "y" to "y.1", which
    then trained as a feature beside the target "y" (a copy of it leaked it), and --cat or
    --drop reached only the first of the two."""
    import pandas as pd

    if not isinstance(source, str):
        source.seek(0)
    # Names as written: with NA parsing on, two columns named "NA" (or "null", "None", ...) were
    # two NaNs and passed, and the second trained as "NA.1".
    names = pd.read_csv(source, header=None, nrows=1, dtype=str, index_col=False, na_filter=False).iloc[0]
    counts = names[names != ""].value_counts()  # blank names are pandas' "Unnamed: i", all distinct
    if (counts > 1).any():
        name = counts.index[0]
        raise CLIError(
            f"the header of {path} names column {name!r} {counts.iloc[0]} times; give each column its own name"
        )


def _other_separator(source) -> str | None:
    """The separator a CSV seems to use instead of commas: one that its comma-free header line
    holds, as many times as its first data line (so a header such as "rate;%" is not one)."""
    if isinstance(source, str):
        with open(source, encoding="utf-8", errors="replace") as f:
            header, first = f.readline(), f.readline()
    else:
        source.seek(0)
        header, first = source.readline(), source.readline()
    for sep in ";\t|":
        n = header.count(sep)
        if n and "," not in header and first.count(sep) == n:
            return sep
    return None


def _drop_index_column(df, path: str, keep=()):
    """Without a blank-header first column (the index DataFrame.to_csv writes): as a feature it
    leaks the row order. Kept when ``keep`` (a model's columns) names it."""
    first = str(df.columns[0])
    if first == "Unnamed: 0" and first not in [str(c) for c in keep]:
        print(f"tabdl: ignoring the first column of {path}, which has no header (an index)", file=sys.stderr)
        return df.iloc[:, 1:]
    return df


def _read_dates(df, columns):
    """Columns of ``columns`` whose values are all ISO 8601 date strings, read as datetimes: CSV
    files hold dates as text, and as categories nearly every date is rare and folded away. The
    model learns them as seconds since the epoch and reads such text as dates at predict."""
    from .columns import iso_dates

    for c in columns:
        if c in df.columns and (dates := iso_dates(df[c])) is not None:
            df[c] = dates
    return df


def _keep_category_text(df, path, est):
    """Give back the text of categorical values that pandas parsed as numbers or booleans, where
    that text is a category the model knows (and the reverse: ``_category_numbers``).

    pandas guesses each file's types on its own: codes "001", "002" read as text beside "A10" in
    the training CSV, but as the ints 1, 2 in a predict CSV that holds only digit codes, and every
    row then fell to the unknown code, silently. Values whose text the model does not know keep
    pandas' reading, so 7.0 still meets the 7 of a CSV that had no gap.
    """
    import pandas as pd

    pre = getattr(est, "preprocessor_", None)
    texts = [
        (j, c)
        for j, c in enumerate(getattr(pre, "cat_names_", []))
        if c in df.columns and (pd.api.types.is_object_dtype(df[c]) or pd.api.types.is_string_dtype(df[c]))
    ]
    parsed = [(j, c) for j, c in enumerate(getattr(pre, "cat_names_", [])) if c in df.columns and (j, c) not in texts]
    for j, c in texts:
        df[c] = _category_numbers(df[c], pre.vocabs_[j])
    if not parsed:
        return df
    if not isinstance(path, str):
        path.seek(0)  # stdin, held in memory
    text = pd.read_csv(path, dtype=str, usecols=[c for _, c in parsed], index_col=False)
    for j, c in parsed:
        known = text[c].isin(pre.vocabs_[j]).to_numpy()
        if known.any():
            df[c] = df[c].astype(object).where(~known, text[c].to_numpy(dtype=object))
    return df


def _category_numbers(col, vocab):
    """The other way round: a column read as text (one "A99" among codes) whose values the model
    learned as numbers or flags (the training CSV held digits only: "001" read as 1, "TRUE" as
    True). An unknown text takes its number's or flag's reading where the model knows that."""
    import numpy as np
    import pandas as pd

    from .columns import category_keys

    known = set(vocab)
    unknown = col.notna().to_numpy() & ~np.isin(category_keys(col), list(known))
    if not unknown.any():
        return col
    out = col.astype(object)
    text = col.where(unknown).astype(object).map(lambda v: v.strip() if isinstance(v, str) else v)
    flags = text.map(lambda v: {"true": True, "false": False}.get(v.lower()) if isinstance(v, str) else None)
    for reading in (pd.to_numeric(text, errors="coerce"), flags.astype(object)):
        hit = unknown & reading.notna().to_numpy() & np.isin(category_keys(reading), list(known))
        out = out.where(~hit, reading)
        unknown &= ~hit
    return out


def _load(path: str):
    from .io import load

    if not Path(path).is_file():
        raise CLIError(f"no such model file: {path}")
    return load(path)  # raises ValueError naming the file when it is not a readable model


def _names(spec: str) -> list[str]:
    return [s.strip() for s in spec.split(",") if s.strip()]


def _spaced(wanted, columns) -> str:
    """A hint for names that the CSV spells with spaces around them (" y " in "x, y, z"), which
    a list of its columns hides."""
    near = [c for c in columns if isinstance(c, str) and c != c.strip() and c.strip() in wanted]
    return f"; the CSV has {near}, with spaces around the name" if near else ""


def _columns(df) -> str:
    cols = [str(c) for c in df.columns]
    return ", ".join(cols[:20]) + (f", ... ({len(cols)} in all)" if len(cols) > 20 else "")


# >>> bench and datasets


def benchmarks_dir() -> Path:
    """The repo's ``benchmarks/`` folder, beside the package (benchmarks are not installed)."""
    import tabdl

    return Path(tabdl.__file__).resolve().parent.parent / "benchmarks"


def _bench(args: argparse.Namespace) -> int:
    bdir = benchmarks_dir()
    if not (bdir / "run.py").is_file():
        raise CLIError(
            f"benchmarks not found at {bdir}; `tabdl bench` runs from a source checkout "
            "(git clone, then pip install -e .)"
        )
    root = str(bdir.parent)
    if root not in sys.path:
        sys.path.insert(0, root)
    from benchmarks import run

    argv = ["--quick"] if args.quick else []
    if args.only:
        argv += ["--only", *args.only]
    if args.out:
        argv += ["--out", args.out]
    if args.threads is not None:
        argv += ["--threads", str(args.threads)]
    if args.jobs is not None:
        argv += ["--jobs", str(args.jobs)]
    return run.main(argv)


def _printable(text: str) -> str:
    """``text`` on one line without control characters (a card's description could move the
    cursor, recolour the terminal or start lines of its own)."""
    return " ".join("".join(ch if ch.isprintable() else " " for ch in str(text)).split())


def _datasets(args: argparse.Namespace) -> int:
    from . import datasets

    names = datasets.list()
    width = max((len(n) for n in names), default=4)
    for name in names:
        try:
            card = datasets.card(name)
        except (ValueError, OSError) as err:  # one broken card of the user's: listed as such, the rest still are
            print(f"{name:<{width}}  (unreadable: {_printable(_one_line(err))})")
            continue
        print(f"{name:<{width}}  {card['task']:<10}  {card['metric']:<7}  {_printable(card.get('description') or '')}")
    print(
        f"\ncards live in {', '.join(map(str, datasets.card_dirs()))} (TABDL_DATA_DIR adds a folder); "
        "load one with tabdl.datasets.load(name) or load('path/to/card.json')",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
