"""numpydoc entries shared by the estimators' docstrings, written once.

``TabularRegressor`` and ``TabularClassifier`` share 23 constructor parameters and most fitted
attributes; ``MatrixFactorization`` shares a few of them. Each entry is kept here under its name,
and ``fill_doc`` puts the entries a class asks for into its docstring, where a line holds only
``{placeholder}``, so that ``help(TabularRegressor)`` lists every parameter in one place.
``tests/test_docs.py`` checks that every parameter of ``get_params()`` has an entry.

Every figure quoted comes from the validation parts of ``benchmarks/results/``; the README's
"Accuracy options" says the same in more words.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from typing import TypeVar

__all__ = ["PARAMETERS", "ATTRIBUTES", "entries", "fill_doc"]

T = TypeVar("T")

# Constructor parameters of _TabularEstimator, in its signature's order (MatrixFactorization
# takes patience, device and verbose from here; its other parameters differ in default or meaning).
PARAMETERS: dict[str, str] = {
    "layers": """
        layers : sequence of int, default=(200, 100)
            Widths of the MLP's hidden layers, input side first. Each is Linear -> ReLU, then
            BatchNorm (``batchnorm``) and dropout (``dropout``); ``()`` puts the head straight on
            the inputs. A wider, deeper body (256 x 3) was not better on the validation parts
            (benchmarks/results/ablation.md).
        """,
    "emb_sizes": """
        emb_sizes : dict {column: int} or None, default=None
            Embedding width of a categorical column, by column label. A column left out (every
            column with None) gets fastai's rule ``min(600, round(1.6 * n ** 0.56))`` for its table
            of ``n`` rows (the categories kept plus the unknown row), capped so that one table holds
            at most 2**24 weights (``tabdl.preprocess.emb_size_rule``). A key that is not a
            categorical column is a ``ValueError`` at fit.
        """,
    "dropout": """
        dropout : float in [0, 1), default=0.1
            Dropout after each hidden layer. 0 was neutral to worse on the validation parts
            (ablation.md).
        """,
    "emb_dropout": """
        emb_dropout : float in [0, 1), default=0.0
            Dropout on the concatenated embeddings of the categorical columns (the continuous
            inputs get none).
        """,
    "batchnorm": """
        batchnorm : bool, default=False
            BatchNorm1d after each hidden layer's ReLU. Off by default, chosen on the screening
            parts: flights' 60,000-row subsample rose from 0.644 to 0.688 validation AUC without
            it, and diamonds was about level. On full flights it made no difference to the
            default (0.7172 either way; ablation.md).
            With ``batch_size=1`` it cannot train unless ``n_members`` >= 2 (a ``ValueError``).
        """,
    "epochs": """
        epochs : int > 0 or "auto", default="auto"
            Epochs of the one-cycle schedule ``fit`` trains (each net of a bag). "auto": 40 for
            TabularRegressor, 20 for TabularClassifier. A regressor's validation loss still falls
            at the end of 20 epochs, and with weight averaging 40 were better on diamonds (RMSE
            0.0898 -> 0.0876), by a mean ratio of 0.966 on nine other regression tables; a classifier's best epoch falls
            mid-cycle, so it keeps 20 and its fit time (ablation.md, round 9). ``patience`` can
            stop a cycle earlier.
        """,
    "lr": """
        lr : float or slice, default=1e-2
            Peak learning rate of the one-cycle schedule: AdamW's LR rises from ``lr / 25`` over
            the first 25 % of the steps, then anneals by cosine to ``lr / 1e5`` (momentum moves
            the other way, 0.95 -> 0.85 -> 0.95). Per layer group, from the input side (the
            embeddings, numerical ones included; the MLP body; the head): a float sets every
            group; ``slice(hi)`` gives the head ``hi`` and the other groups ``hi / 10``;
            ``slice(lo, hi)`` spaces them geometrically from ``lo`` to ``hi``
            (``tabdl.learner.group_lrs``). ``fine_tune(lr=None)`` takes ``slice(lr / 100, lr)``.
            ``lr_find`` suggests one; 3e-3 was not better on the validation parts (ablation.md).
        """,
    "batch_size": """
        batch_size : int > 0 or "auto", default="auto"
            Rows per optimiser step. "auto": the power of 2 at or below ``n_train / 32`` (32 to
            64 steps per epoch), clipped to [16, 1024], where ``n_train`` counts a net's training
            rows: better than the former n/16 capped at 256 on diamonds, and large batches are
            faster per row (ablation.md). An epoch's last batch is dropped when it holds one row.
        """,
    "weight_decay": """
        weight_decay : float >= 0, default=0.01
            AdamW's decoupled weight decay, on the tensors of two or more dimensions (weight
            matrices, embedding tables, the ensemble members' scalings and heads, their per-member
            biases, the periodic embeddings' frequencies and biases); 1-D tensors (plain biases,
            norms) get none. 0.1 was not better on the validation parts (ablation.md).
        """,
    "validation_fraction": """
        validation_fraction : float in [0, 1) or None, default=0.1
            Share of the rows each net holds out (its own random cut; stratified on the class for
            TabularClassifier) and scores after every epoch. The epoch of the lowest validation
            loss is the one kept (its weights are restored at the end of the cycle), and
            ``patience``, ``metrics`` and ``threshold="auto"`` read this part. None or 0, or too
            few rows to cut one: no validation part, and the last epoch's weights are kept.
            Ignored when ``fit`` gets ``eval_set``.
        """,
    "patience": """
        patience : int > 0 or None, default=None
            Stop a cycle (``fit``, ``fit_one_cycle``, ``fine_tune``) after this many epochs
            without a lower validation loss; the best epoch's weights are kept either way. None:
            every epoch runs. It needs a validation part: without one a ``UserWarning`` says that
            every epoch runs.
        """,
    "metrics": """
        metrics : list of str or callable, or None, default=None
            Scores recorded after every epoch on the validation part, one ``history_`` column
            each: reported, never optimised (the validation loss picks the best epoch). Names
            (``tabdl.metrics.METRICS``): "rmse", "mae", "r2" for TabularRegressor; "accuracy",
            "balanced_accuracy", "f1", "mcc", "roc_auc", "pr_auc", "log_loss" for
            TabularClassifier (a name of the other task is a ``ValueError``; the label metrics
            score the argmax). A callable ``f(y_true, output)`` gets the targets and predictions
            in the target's units, or the class codes and the (n, n_classes) probabilities; it
            gets the validation rows' weights too when it takes a ``sample_weight`` keyword, and
            its ``__name__`` names its column. Without a validation part a ``UserWarning`` says
            that nothing is scored; "accuracy" where one class holds over 80 % of the rows warns,
            and so does a binary "f1" (of ``classes_[1]``) where that class holds over two thirds.
        """,
    "cat_features": """
        cat_features, cont_features : list of column labels or positions, boolean mask, or None, default=None
            Column roles. None: object, string, category, bool, Period, Interval and pyarrow
            dictionary or binary columns are categorical (an entity embedding each; object
            columns of dates, durations, Decimals or floats excepted), the other columns
            continuous (numbers; datetimes and durations as seconds).
            ``cat_features`` given is the full list of categorical columns: use it for int codes
            such as month or zip (a text column left out is a ``ValueError`` naming it). When
            ``cont_features`` is given, columns in neither list are not used. A column in both is
            a ``ValueError``.
        """,
    "min_category_count": """
        min_category_count : int >= 1 or "auto", default="auto"
            Categories seen fewer times in the training rows share the unknown vector (code 0, as
            missing and unseen values do), which is so trained on real rows. "auto": 1 % of the
            training rows, clipped to [3, 100]; a column whose rarer categories (of 3 rows or
            more) carry signal, by a one-way ANOVA F >= 2 of the target over them, keeps them
            (``preprocessor_.rare_kept_``). On full flights' validation part "auto" lifted AUC
            from 0.717 to 0.764 (ablation.md, round 5). An int is a fixed bar, without the signal
            test. A column whose every category falls under the bar is folded whole, and ``fit``
            warns.
        """,
    "scaler": """
        scaler : {"quantile", "standard", "none"}, default="quantile"
            Scaling of the continuous columns, after NaNs are filled with the training median.
            "quantile": rank-gauss, the training quantiles mapped to a standard normal (robust to
            outliers; values beyond the training range are clipped); "standard": ``(x - mean) /
            std``; "none": the values as they are. "standard" was not better on the validation
            parts (ablation.md).
        """,
    "num_embeddings": """
        num_embeddings : "auto", "periodic", "piecewise", dict or None, default="auto"
            Embeds each continuous value as a vector (16 wide) before the MLP (Gorishniy et al.
            2022, ``tabdl.num_embeddings``): "periodic" is periodic features, a per-column linear
            layer and ReLU ("PLR"); "piecewise" a piecewise-linear encoding over quantile bins of
            the training rows; None feeds the scaled values. "auto": "periodic" from 1000
            training rows on, else None (raw values fitted better on 8 of 8 small regression
            tables, ablation.md round 13; try "periodic" on a small table whose target is a
            lookup of a few values by id-like numbers).
            A dict sets options, ``{"kind": "periodic", "sigma": 0.1}`` (d_embedding 16,
            n_frequencies 32, sigma 0.3, lite False by default) or ``{"kind": "piecewise",
            "n_bins": 16}`` (d_embedding 16, n_bins 32). The largest single gain of the ablation
            (diamonds RMSE 0.112 -> 0.100). When embedding every continuous column would feed the
            MLP over 4096 inputs, columns of at most two values enter as 0 / 1 instead
            (benchmarks/results/robustness.md, "Flags on wide tables").
        """,
    "n_members": """
        n_members : int >= 1, default=2
            Members of a TabM-mini efficient ensemble (``tabdl.ensemble``): they share the
            embeddings and the body, each owns an input scaling and a head; they train on the
            mean of their losses and predict the mean (of the probabilities, for a classifier), at
            about ``n_members`` times the body's cost. On the validation parts 2 beat 1 on all
            three tasks at 1.1-1.6x the fit time, and 4 gained more on flights and churn at up to
            2.7x (ablation.md, round 5): 1 is the fast setting, 4 the most accurate.
        """,
    "n_bags": """
        n_bags : int >= 1 or "auto", default="auto"
            Whole nets trained one after another, each with its own seed and its own
            ``validation_fraction`` cut (so together they learn from every row), predicting their
            mean (of the probabilities, for a classifier); ``model_`` is then a
            ``tabdl.ensemble.NetBag``. "auto": ``100_000 // n_rows`` clipped to [1, 5] for the
            ``n_rows`` given to ``fit``: 5 nets up to 20,000 rows, 1 from 50,001. With
            ``eval_set`` (or no validation part) the nets train on the same rows and differ by
            seed only. ``history_``, ``loss_curve_`` and ``best_epoch_`` of ``fit`` describe the
            first net, the fit ``n_bags=1`` makes, and whose embeddings ``embedding_encoder()``
            exports; later cycles (``fit_one_cycle``, ``fine_tune``) train and score the whole bag.
            A net that diverges or meets Ctrl-C ends the bag: a first net is kept with its best
            weights, a later one is dropped with a warning (``diverged_``, ``interrupted_``). On churn's 12 validation splits the bag took the error ratio to LightGBM
            from 1.008 to 0.979 (ablation.md, round 10), at up to 5x the fit time and one
            forward pass per net to predict: 1 is the fast setting.
        """,
    "average_weights": """
        average_weights : bool, default=True
            Score, keep and return an exponential moving average of the weights (Polyak
            averaging over at most one epoch of steps, ``tabdl.optim.WeightAverage``) instead of
            the live ones, which are noisy where the best epoch falls mid-cycle, at a high LR. It
            lifted churn's mean validation AUC over 8 splits from 0.924 to 0.930 and lowered the
            held-out log loss on all 12 classification tables of the robustness sweep
            (ablation.md, round 9).
        """,
    "device": """
        device : str or torch.device, default="auto"
            Where the net trains and predicts: "auto" is "cuda" when torch sees a GPU, else
            "cpu"; or "cpu", "cuda", "cuda:1" ... A device this machine lacks is a ``ValueError``
            at fit. A model loaded (``tabdl.load``) or unpickled where its device is missing
            serves on the CPU. A seed repeats a fit bit for bit on the CPU only.
        """,
    "verbose": """
        verbose : int >= 0, default=0
            0: silent. Any other value shows a tqdm progress bar over each training cycle's
            epochs (one per net), with the last losses.
        """,
    "random_state": """
        random_state : None, int or numpy.random.RandomState, default=None
            Seed of the fit: the validation cut, weight initialisation, dropout and batch order
            (the further nets of a bag take seeds spawned from it). An int in [0, 2**32 - 1]
            repeats the fit bit for bit on the CPU, without using or changing the global random
            streams; None draws a fresh seed from numpy's global RandomState. Kept as ``seed_``.
        """,
}

# Fitted attributes of _TabularEstimator (MatrixFactorization shares all but preprocessor_,
# model_ and model_config_, whose contents differ).
ATTRIBUTES: dict[str, str] = {
    "model_": """
        model_ : tabdl.modules.TabularMLP or tabdl.ensemble.NetBag
            The trained net, or the bag of nets of ``n_bags`` > 1.
        """,
    "model_config_": """
        model_config_ : dict
            The net's constructor arguments as plain JSON (``"n_bags"`` added for a bag), from
            which ``tabdl.load`` rebuilds it.
        """,
    "preprocessor_": """
        preprocessor_ : tabdl.preprocess.TabularPreprocessor
            What was learned from the first net's training rows: column roles (``cat_names_``,
            ``cont_names_``), vocabularies (``vocabs_``), median fills and NaN indicators,
            scaling statistics, the rare-category bar in use (``min_category_count_``) and
            ``rare_kept_``.
        """,
    "history_": """
        history_ : pandas.DataFrame
            One row per epoch: epoch, train_loss (the epoch's mean batch loss), step (its last
            batch in ``loss_curve_``), train_loss_smooth, time (seconds), valid_loss and one
            column per ``metrics`` entry (with a validation part), then lr. Continued training
            (``fit_one_cycle``, ``fine_tune``) appends its epochs, with the numbering carried on.
        """,
    "loss_curve_": """
        loss_curve_ : ndarray of shape (n_batches,)
            The raw training loss of every batch, over all cycles.
        """,
    "best_epoch_": """
        best_epoch_ : int
            The epoch (``history_``'s numbering) whose weights the model holds.
        """,
    "n_features_in_": """
        n_features_in_ : int
            Number of columns of the X given to ``fit``.
        """,
    "feature_names_in_": """
        feature_names_in_ : ndarray of str
            The column names of the X given to ``fit``; only when they are all strings.
        """,
    "seed_": """
        seed_ : int
            The seed ``random_state`` resolved to.
        """,
    "device_": """
        device_ : str
            The device the model lives on.
        """,
    "diverged_": """
        diverged_, interrupted_ : bool
            True when the last training call diverged (the loss became NaN/inf or exploded:
            training stopped at the best weights so far, with a ``DivergenceWarning``) or met
            Ctrl-C.
        """,
}


def entries(table: dict[str, str], *names: str) -> str:
    """The numpydoc entries of ``names`` from ``table`` (PARAMETERS or ATTRIBUTES), unindented.
    A name without an entry is left out, for tests/test_docs.py to name (not a KeyError at import)."""
    return "\n".join(textwrap.dedent(table[n]).strip("\n") for n in names if n in table)


def fill_doc(**parts: str) -> Callable[[T], T]:
    """Decorator: each docstring line that holds only ``{name}`` becomes ``parts[name]``, indented
    as that line was (docstrings keep their indentation before Python 3.13, which strips it)."""

    def decorate(obj: T) -> T:
        doc = obj.__doc__
        if doc is None:  # python -OO
            return obj
        out, used = [], set()
        for line in doc.split("\n"):
            key = line.strip()[1:-1] if line.strip().startswith("{") and line.strip().endswith("}") else None
            if key in parts:
                indent = line[: len(line) - len(line.lstrip())]
                out.extend(indent + s if s else s for s in parts[key].split("\n"))
                used.add(key)
            else:
                out.append(line)
        if set(parts) - used:
            raise ValueError(f"{obj!r}'s docstring has no line {{{sorted(set(parts) - used)[0]}}}")
        obj.__doc__ = "\n".join(out)
        return obj

    return decorate
