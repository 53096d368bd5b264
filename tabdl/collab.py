"""Collaborative filtering: ``MatrixFactorization`` and its id -> factor-vector export.

The data flow is the tabular one with two categorical columns: a ``TabularPreprocessor`` holds
the user and item vocabularies (code 0 = unknown), the shared ``Learner`` trains a
``DotProductBias`` (or, with ``kind="nn"``, a ``TabularMLP`` over the two embeddings), and the
estimator is a thin scikit-learn face that adds ``recommend`` and ``similar_items``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence, Set
from typing import Any, Literal

import numpy as np
import pandas as pd
import torch
from scipy import sparse
from sklearn.base import BaseEstimator, RegressorMixin, TransformerMixin
from sklearn.utils.validation import _check_feature_names_in, check_is_fitted, column_or_1d

from ._docs import ATTRIBUTES, PARAMETERS, entries, fill_doc
from .columns import as_frame, boxed, category_codes, category_keys, check_unique_columns
from .estimators import _check_y_range, _TabularEstimator, _warn_if_outside_y_range
from .guards import check_positive, is_count, is_number
from .learner import Learner, TensorData
from .lr_finder import LRFindResult
from .modules import DotProductBias, TabularMLP
from .neighbours import fit_item_neighbours
from .optim import LazyAdamW
from .preprocess import TabularPreprocessor, _resolve

__all__ = ["MatrixFactorization", "FactorEncoder"]

Kind = Literal[
    "dot",  # user . item + user bias + item bias + global mean, squashed into y_range
    "nn",  # the two embeddings concatenated and fed to an MLP (fastai's EmbeddingNN)
]

_NN_WEIGHT_DECAY = 1.0  # kind="nn" with weight_decay="auto"; see _weight_decay

# Users x items scored per chunk in recommend: bounds the (U, I) score matrix to ~16 MB.
_SCORE_CHUNK = 2**22


def _ids_for(col: pd.Series, vocab: Sequence[str]) -> np.ndarray:
    """The original id for each vocabulary key (vocabularies hold normalised string keys)."""
    uniq = pd.Series(pd.unique(col.dropna()))
    keys, values = category_keys(uniq), pd.Series(boxed(uniq), dtype=object).to_numpy()
    # Reversed, so that the first spelling of a key wins (a dict keeps the last it is given): 1 then
    # "1" gave the ids ["1", 2], where .loc[1] on user_factors_ failed.
    first = dict(zip(keys[::-1], values[::-1]))
    ids = pd.Series([first[k] for k in vocab], dtype=object).to_numpy()  # tuple ids stay one per row
    # Whole-number ids read as floats (an id column with a gap, a CSV with an empty cell) come
    # back as ints, as the same ids without the gap do: 1198, not 1198.0.
    if len(ids) and all(_whole_number(v) for v in ids):
        return np.array([int(v) for v in ids], dtype=np.int64)
    return ids


def _whole_number(v: Any) -> bool:
    if isinstance(v, (bool, np.bool_)):
        return False
    if isinstance(v, (int, np.integer)):
        return -(2**63) <= v < 2**63
    return isinstance(v, (float, np.floating)) and float(v).is_integer() and abs(v) < 2**53


class _PenalisedMSE(torch.nn.Module):
    """MSE plus ``reg`` x the model's per-rating L2 penalty of the batch (training only).

    Validation and predictions score the plain MSE.
    """

    def __init__(self, model: DotProductBias, reg: float, bias_reg: float):
        super().__init__()
        self.model = [model]  # a list: the loss must not own the model's parameters
        self.reg, self.bias_reg = reg, bias_reg

    def forward(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        loss = torch.nn.functional.mse_loss(out, y)
        model = self.model[0]
        if model.training and model.batch_penalty is not None:
            sq = model.batch_penalty  # (F + 1,): factors, then the bias
            loss = loss + self.reg * sq[:-1].sum() + self.bias_reg * sq[-1]
            model.batch_penalty = None  # drop the graph reference; the model stays copyable
        return loss


@fill_doc(
    shared_parameters=entries(PARAMETERS, "patience"),
    shared_parameters_end=entries(PARAMETERS, "device", "verbose"),
    shared_attributes=entries(
        ATTRIBUTES,
        "history_",
        "loss_curve_",
        "best_epoch_",
        "n_features_in_",
        "feature_names_in_",
        "seed_",
        "device_",
        "diverged_",
    ),
)
class MatrixFactorization(RegressorMixin, _TabularEstimator):
    """Rating prediction from learned user and item factors, trained with the one-cycle policy.

    ``fit(X, y)``: X holds a user column and an item column (``user_col`` / ``item_col``, by
    default the first two columns); ids may be ints or strings; y holds the ratings.

    ``kind="dot"`` predicts ``sigmoid(u . i + b_u + b_i + g)`` scaled to ``y_range``. An unknown
    user or item has a zero factor and a zero bias, so it falls back to the trained global bias
    ``g`` (it starts at the mean rating) plus the biases that are known; predictions never leave ``y_range``. Ids seen fewer than
    ``min_count`` times in training are treated as unknown.

    Regularisation (kind="dot"): ``reg`` and ``bias_reg`` are L2 penalties per rating on the
    factors and biases of the rows each rating uses, as SGD matrix factorisation (Surprise's SVD)
    applies them; ``weight_decay`` is AdamW's decoupled decay on top ("auto": 0 for dot, 1.0
    for nn). With ``lazy_updates`` the tables get sparse gradients and ``LazyAdamW`` moves only
    the rows a batch touched, so a step costs O(batch), not O(users + items). kind="nn" uses
    ``weight_decay``, ``layers``, ``dropout`` and ``emb_dropout`` instead (valid RMSE 0.889 with
    these defaults, far from dot: it is there for experiments, as fastai's EmbeddingNN).

    Item neighbours (kind="dot", ``n_neighbors`` > 0; tabdl.neighbours): after training, the
    factors' residuals on the training ratings are kept, each item gets its ``n_neighbors`` items
    whose residuals move most alike (a cosine shrunk by the number of co-raters), and a prediction adds the
    user's own residuals on the item's neighbours (Koren 2008's neighbourhood on top of the
    factors), still kept inside ``y_range``. It catches what a low-rank model smooths away (a user
    who rates a whole series higher than the factors say). On movielens validation parts (3 splits
    x 2 seeds) it lowered RMSE from 0.8644 to 0.8562, by 0.0069-0.0093 on every fit; k = 20 /
    100 scored 0.8568 / 0.8562 (benchmarks/results/collab.md). ``n_neighbors=0`` is plain MF.
    A continued cycle (``fit_one_cycle``, ``fine_tune``) fits the tables again on the ratings they
    held plus the new ones, against the factors it leaves.

    Defaults were chosen on movielens on a validation part (10%, random_state 1) carved from the
    training part, never on the test part: valid RMSE (seed 0) 0.8658 for these defaults without
    the neighbour correction (``n_neighbors=0``; 0.8577 with it), and the figures that follow are
    of the factors alone: per-rating L2 beat AdamW weight decay (best 0.879 at weight_decay=1, 0.868 at reg=0.1 with
    dense updates); lazy updates 0.8658 vs 0.8687 dense; batch 1024 0.8643 at 1.5x the time per
    epoch; 128 factors, reg 0.08/0.12, 8/12 epochs, lr 1.5e-2 and min_count 2/3 all within
    0.001-0.002 of it (seed noise is about 0.003).

    Parameters
    ----------
    n_factors : int > 0, default=64
        Width of the user and item factor vectors (kind="dot"; each table row holds the factors
        and then the bias), or of the two embeddings fed to the MLP (kind="nn").
    kind : {"dot", "nn"}, default="dot"
        "dot": ``sigmoid(u . i + b_u + b_i + g)`` scaled to ``y_range_`` (the plain sum when
        ``y_range=None``). "nn": the two embeddings concatenated and fed to an MLP (``layers``,
        with BatchNorm after each hidden layer, ``dropout``, ``emb_dropout``), whose output the
        sigmoid scales likewise; no user or item biases, no neighbour correction.
    y_range : "auto", (float, float) or None, default="auto"
        The range the sigmoid scales predictions into, kept as ``y_range_``. "auto": the
        training ratings' range padded by a tenth of its width on each side (by 1.0 when every
        rating is the same), since a sigmoid reaches its ends only at infinity (fastai's
        (0, 5.5) for 0.5-5 stars). A pair (low, high), finite with low < high: that range, with a
        ``UserWarning`` when ratings fall outside it. None: no sigmoid, predictions unbounded.
        The mean rating must lie inside the range (a ``ValueError``). With "auto", continued
        training on ratings outside ``y_range_`` is a ``ValueError`` (fit a new model for a new
        scale); with your own range it warns and trains.
    weight_decay : float >= 0 or "auto", default="auto"
        AdamW's decoupled weight decay, on the tables and weight matrices (with
        ``lazy_updates``, only the rows a batch touched decay). "auto": 0 for kind="dot", where
        ``reg`` regularises and decay on top did not help on validation; 1.0 for kind="nn",
        which overfits without it (valid RMSE 0.940 at 0, 0.917 at 1.0 with dropout 0.1).
    reg : float >= 0, default=0.1
        kind="dot": the L2 penalty per rating on the factors, added to the MSE: ``reg`` times
        the batch's mean over ratings of ``|u|^2 + |i|^2`` for the user and item each rating
        uses.
    bias_reg : float >= 0 or None, default=0.01
        kind="dot": the same penalty on the user and item biases; None: ``reg``.
    lazy_updates : bool, default=True
        kind="dot": sparse gradients for the tables and ``tabdl.optim.LazyAdamW``, which moves
        only the rows a batch touched (their moments and weight decay too), so a step costs
        O(batch) rather than O(users + items). Dense updates scored 0.8687 against 0.8658.
    n_neighbors : int >= 0, default=50
        kind="dot": the item-neighbour correction above, with this many neighbours per item,
        fitted after every training cycle; 0 is plain matrix factorisation. Ignored by
        kind="nn".
    epochs : int > 0, default=10
        Epochs of ``fit``'s one-cycle schedule (no "auto" here).
    lr : float or slice, default=1e-2
        Peak learning rate of the one-cycle schedule, as in TabularRegressor. The layer groups
        are the factor table and the global offset ``g`` for kind="dot" (``slice(hi)`` trains
        the table at ``hi / 10``, ``slice(lo, hi)`` at ``lo``), the embeddings, the MLP body
        and the head for kind="nn".
    batch_size : int > 0 or "auto", default="auto"
        Ratings per optimiser step. "auto": about 16 steps per epoch, the power of 2 at or
        below ``n_train / 16`` clipped to [16, 4096]: 4096 on movielens' 90k training ratings.
        On 76,500 ratings 4096 scored best (validation RMSE 0.8576 / 0.8586 over two seeds,
        against 0.8600 / 0.8634 at 1024), while on fewer ratings a fixed 4096 left too few
        steps (17k ratings: 0.9760 / 0.9791 at 4096, 0.9477 / 0.9408 at the rule's 1024;
        benchmarks/results/collab.md, "Batch size on fewer ratings").
    validation_fraction : float in [0, 1) or None, default=None
        Share of the ratings held out (a random cut, not trained on) and scored after every
        epoch: the epoch of the lowest validation loss is kept, and ``patience`` and
        ``metrics`` read this part. None (the default) or 0: every rating trains and the last
        epoch is kept. Ignored when ``fit`` gets ``eval_set``.
    {shared_parameters}
    min_count : int >= 1, default=1
        Users and items with fewer ratings in the training rows are unknown (code 0: a zero
        factor and bias), as ids never seen are. A column whose every id is that rare gets a
        ``UserWarning``.
    layers : sequence of int, default=(128,)
        kind="nn" only: the MLP's hidden layer widths (each Linear -> ReLU -> BatchNorm ->
        dropout).
    dropout : float in [0, 1), default=0.3
        kind="nn" only: dropout after each hidden layer.
    emb_dropout : float in [0, 1), default=0.5
        kind="nn" only: dropout on the two concatenated embeddings. With these two defaults
        (and weight_decay 1.0) valid RMSE was 0.889, against 0.917 with dropout 0.1.
    user_col, item_col : column label, int position or None, default=None
        The columns of X holding the user and item ids (ints, strings, any hashable value).
        None: the first / second column by position; a label among X's columns names that
        column; an int that is not one is a position. Other columns of X are not used; the same
        column twice is a ``ValueError``.
    metrics : list of str or callable, or None, default=None
        Scores recorded after every epoch on the validation part, one ``history_`` column each:
        "rmse", "mae", "r2", or callables ``f(y_true, y_pred)`` of ratings named by their
        ``__name__`` (see TabularRegressor).
    {shared_parameters_end}
    random_state : None, int or numpy.random.RandomState, default=None
        Seed of the fit: the validation cut, the initialisation, dropout and batch order. An
        int repeats the fit bit for bit on the CPU; None draws a fresh seed. Kept as ``seed_``.

    Attributes
    ----------
    user_factors_, item_factors_ : pandas.DataFrame
        The learned vectors, indexed by id (the index named after the id column), one column
        per factor (``f0``, ``f1``, ...); read from ``model_`` on access.
    user_bias_, item_bias_ : pandas.DataFrame
        The learned biases, indexed by id, in a column ``bias``; kind="dot" only (kind="nn"
        raises ``AttributeError``).
    user_ids_, item_ids_ : ndarray
        The ids the model knows (its vocabularies' order; int64 when they are all whole
        numbers).
    user_col_, item_col_ : column label
        The id columns of the X given to ``fit``.
    global_mean_ : float
        The mean training rating, where the global bias ``g`` starts.
    y_range_ : (float, float) or None
        The range predictions are scaled into (``y_range`` resolved).
    seen_indptr_, seen_items_ : ndarray of int64
        The rated (user, item) pairs of every training call, as CSR arrays over the
        vocabularies' codes (item codes per user code): ``recommend(exclude_seen=True)`` drops
        them.
    seen_by_unknown_users_ : dict
        The known items rated by users the model has no code for (rarer than ``min_count``, or
        new in a later cycle), by user key; ``recommend`` drops them too.
    n_outputs_ : int
        1.
    preprocessor_ : tabdl.preprocess.TabularPreprocessor
        The user and item vocabularies (``vocabs_``).
    model_ : tabdl.modules.DotProductBias or tabdl.modules.TabularMLP
        The trained model (kind="dot" or "nn"), with the neighbour tables for kind="dot".
    model_config_ : dict
        The model's constructor arguments as plain JSON, from which ``tabdl.load`` rebuilds it.
    {shared_attributes}

    See Also
    --------
    TabularRegressor : Entity embeddings for any table, not just (user, item) pairs.
    FactorEncoder : One id column to its factor vectors (``user_encoder()``,
        ``item_encoder()``).
    tabdl.metrics.recall_at_k, tabdl.metrics.ndcg_at_k : Scores of ``recommend``'s lists.

    Examples
    --------
    >>> import pandas as pd
    >>> from tabdl import MatrixFactorization
    >>> X = pd.DataFrame({"user": [1, 1, 2, 2, 3, 3, 4],
    ...                   "item": ["a", "b", "a", "c", "b", "c", "a"]})
    >>> y = [5, 3, 4, 2, 1, 2, 5]
    >>> mf = MatrixFactorization(n_factors=4, epochs=3, random_state=0).fit(X, y)
    >>> mf.predict(pd.DataFrame({"user": [1, 9], "item": ["c", "a"]})).shape  # user 9 is unknown
    (2,)
    >>> mf.recommend(1, k=2)["item"].tolist()  # user 1 rated a and b already
    ['c']
    >>> mf.item_factors_.shape
    (3, 4)
    """

    _task = "regression"
    _fold_param = "min_count"
    _auto_batch = (16, 4096)  # batch_size="auto": ~16 steps per epoch, at most 4096 (see the docstring)

    def __init__(
        self,
        *,
        n_factors: int = 64,
        kind: Kind = "dot",
        y_range: Any = "auto",
        weight_decay: float | str = "auto",
        reg: float = 0.1,
        bias_reg: float | None = 0.01,
        lazy_updates: bool = True,
        n_neighbors: int = 50,
        epochs: int = 10,
        lr: float | slice = 1e-2,
        batch_size: int | str = "auto",
        validation_fraction: float | None = None,
        patience: int | None = None,
        min_count: int = 1,
        layers: Sequence[int] = (128,),
        dropout: float = 0.3,
        emb_dropout: float = 0.5,
        user_col: Any = None,
        item_col: Any = None,
        metrics: Sequence[Any] | None = None,
        device: str = "auto",
        verbose: int = 0,
        random_state: Any = None,
    ):
        self.n_factors = n_factors
        self.kind = kind
        self.y_range = y_range
        self.weight_decay = weight_decay
        self.reg = reg
        self.bias_reg = bias_reg
        self.lazy_updates = lazy_updates
        self.n_neighbors = n_neighbors
        self.epochs = epochs
        self.lr = lr
        self.batch_size = batch_size
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.min_count = min_count
        self.layers = layers
        self.dropout = dropout
        self.emb_dropout = emb_dropout
        self.user_col = user_col
        self.item_col = item_col
        self.metrics = metrics
        self.device = device
        self.verbose = verbose
        self.random_state = random_state

    # >>> validation
    def _validate_params(self) -> None:
        if self.kind not in ("dot", "nn"):
            raise ValueError(f"kind must be 'dot' or 'nn', got {self.kind!r}")
        check_positive("n_factors", self.n_factors, integer=True)
        check_positive("epochs", self.epochs, integer=True)  # no "auto" here: 10 is the default
        check_positive("min_count", self.min_count, integer=True)
        check_positive("n_neighbors", self.n_neighbors, integer=True, allow_zero=True)
        if not (isinstance(self.weight_decay, str) and self.weight_decay == "auto"):
            check_positive("weight_decay", self.weight_decay, allow_zero=True)
        check_positive("reg", self.reg, allow_zero=True)
        if self.bias_reg is not None:
            check_positive("bias_reg", self.bias_reg, allow_zero=True)
        _check_y_range(self.y_range, allow=("auto", None))
        if not isinstance(self.lazy_updates, (bool, np.bool_)):
            raise ValueError(f"lazy_updates must be True or False, got {self.lazy_updates!r}")
        self._validate_fit_params()
        if self.kind == "nn":
            self._validate_mlp_params()

    def _builds_one_row_batchnorm(self) -> bool:
        return self.kind == "nn"  # its TabularMLP always normalises, one member (see _model_config)

    def _check_X_y_fit(self, X: Any, y: Any) -> tuple[pd.DataFrame, np.ndarray]:
        X, y = super()._check_X_y_fit(X, y)
        if X.shape[1] < 2:
            raise ValueError(f"X needs a user column and an item column, got {X.shape[1]} column(s)")
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)  # sklearn's DataConversionWarning for a column y
        if y.ndim != 1:
            raise ValueError(f"MatrixFactorization needs one rating per row, got y of shape {y.shape}")
        return X, y

    def _set_feature_names(self, X: pd.DataFrame) -> None:
        # The training X alone says which columns hold the ids: resolved in _check_X_y_fit, an
        # eval_set's X (checked by it too) decided them, so its column order swapped users and items.
        super()._set_feature_names(X)
        self._id_labels = self._resolve_id_columns(list(X.columns))

    # >>> hooks of the shared fit path
    def _resolve_id_columns(self, columns: list[Any]) -> list[Any]:
        """The labels of the user and item columns: ``None`` is the first / second column by
        position (as 0 and 1 they were matched as labels first: int-labelled columns [1, 0]
        swapped users and items), a name is a label, an int that is not one a position."""
        labels = []
        for spec, pos, name in ((self.user_col, 0, "user_col"), (self.item_col, 1, "item_col")):
            if spec is None:
                labels.append(columns[pos])
            elif isinstance(spec, (bool, np.bool_)):  # read as a column mask
                raise ValueError(f"{name} must be a column name or position, got {spec!r}")
            else:
                labels.append(_resolve([spec], columns, name)[0])
        # Compared as columns: item_col="userId" beside the default user column (which is
        # userId) was caught later as a data error.
        if labels[0] == labels[1]:
            check_unique_columns(pd.Index(columns), labels)  # X.set_axis(["a", "a"]) says so
            raise ValueError(f"user_col and item_col name the same column {labels[0]!r}")
        return labels

    def _make_preprocessor(self) -> TabularPreprocessor:
        # The labels _check_X_y_fit resolved on this fit's X.
        return TabularPreprocessor(cat_features=self._id_labels, cont_features=[], min_category_count=self.min_count)

    @staticmethod
    def _ratings(y: np.ndarray) -> np.ndarray:
        try:
            y = y.astype(np.float64)
        except (TypeError, ValueError):
            raise ValueError("MatrixFactorization needs numeric ratings y") from None
        if not np.isfinite(y).all():
            raise ValueError("y contains +/-inf")
        return y

    def _adapt_target(self, y: np.ndarray, w: np.ndarray | None = None) -> None:
        # Continued training keeps the sigmoid's range: ratings beyond it could never be predicted
        # (a 1-5 model fine-tuned on 1-10 ratings would top out at 5.4 without a word).
        y = self._ratings(y)
        if self.y_range_ is not None and not (self.y_range_[0] <= y.min() and y.max() <= self.y_range_[1]):
            if not isinstance(self.y_range, str):  # the user's own range: fit warned and trained, and so does this
                # against the range the model squashes into: a y_range set after fit is not it (a wider
                # one hid the ratings no prediction can reach, None raised a TypeError)
                _warn_if_outside_y_range(self.y_range_, y, "ratings")
                return
            raise ValueError(
                f"ratings in [{y.min():.4g}, {y.max():.4g}] leave the y_range {self.y_range_} this model was "
                "fitted with; fit a new model for the new rating scale"
            )

    def _fit_target(self, y: np.ndarray, w: np.ndarray | None = None) -> None:
        y = self._ratings(y)
        self.n_outputs_ = 1
        self.global_mean_ = float(y.mean())
        if isinstance(self.y_range, str):  # "auto"
            # fastai's (0, 5.5) for 0.5..5 stars: a margin on both sides, since a sigmoid reaches
            # its ends only at +/-inf and the extreme ratings must stay reachable.
            lo, hi = float(y.min()), float(y.max())
            pad = 0.1 * (hi - lo) if hi > lo else 1.0
            self.y_range_ = (lo - pad, hi + pad)
        else:
            self.y_range_ = None if self.y_range is None else (float(self.y_range[0]), float(self.y_range[1]))
        if self.y_range_ is not None and not self.y_range_[0] < self.global_mean_ < self.y_range_[1]:
            raise ValueError(f"the mean rating {self.global_mean_:.4g} lies outside y_range {self.y_range_}")
        if self.y_range_ is not None and not isinstance(self.y_range, str):
            _warn_if_outside_y_range(self.y_range, y, "ratings")

    def _global_bias(self) -> float:
        """The head's starting offset: the global mean (in logit space when squashed)."""
        if self.y_range_ is None:
            return self.global_mean_
        lo, hi = self.y_range_
        p = (self.global_mean_ - lo) / (hi - lo)
        return math.log(p / (1 - p))

    def _model_config(self, train: TensorData) -> dict[str, Any]:
        n_users, n_items = self.preprocessor_.cardinalities_
        y_range = None if self.y_range_ is None else list(self.y_range_)
        if self.kind == "dot":
            return {
                "kind": "dot",
                "n_users": n_users,
                "n_items": n_items,
                "n_factors": int(self.n_factors),
                "y_range": y_range,
                "global_bias": self._global_bias(),
                "sparse": bool(self.lazy_updates),
                # Filled after training (_after_training); empty while the factors train.
                "neighbours": {"n_pairs": 0, "k": 0} if self.n_neighbors else None,
            }
        return {
            "kind": "nn",
            "cardinalities": [n_users, n_items],
            "emb_dims": [int(self.n_factors)] * 2,
            "n_cont": 0,
            "n_out": 1,
            "layers": [int(w) for w in self.layers],
            "dropout": float(self.dropout),
            "emb_dropout": float(self.emb_dropout),
            "batchnorm": True,
            "y_range": y_range,
        }

    def _make_model(self) -> torch.nn.Module:
        config = dict(self.model_config_)
        kind = config.pop("kind")
        if config.get("y_range") is not None:
            config["y_range"] = tuple(config["y_range"])
        return DotProductBias(**config) if kind == "dot" else TabularMLP(**config)

    def _weight_decay(self) -> float:
        if isinstance(self.weight_decay, str):  # "auto"
            # dot: the per-rating L2 (reg) regularises, decay on top did not help on validation;
            # nn: the MLP overfits without it (valid RMSE 0.940 at 0 and 0.917 at 1.0 with
            # dropout 0.1; 0.889 at 1.0 with dropout 0.3 and emb_dropout 0.5).
            return 0.0 if self.kind == "dot" else _NN_WEIGHT_DECAY
        return float(self.weight_decay)

    def _average_weights(self) -> bool:
        return False

    def _n_bags(self, n_rows: int) -> int:
        return 1  # one factorisation: the neighbour correction and recommend read a single net

    def fit(self, X: Any, y: Any, *, eval_set: tuple[Any, Any] | None = None) -> MatrixFactorization:
        """Fit the factors with the one-cycle policy; ``eval_set=(X_valid, y_valid)`` replaces the
        validation split. No ``sample_weight``: the neighbour correction and the seen items of
        ``recommend`` count every rating alike."""
        return super().fit(X, y, eval_set=eval_set)

    def _sample_weight(self, sample_weight: Any, n_rows: int) -> None:
        # The estimators' continued training and eval_set triples take row weights; a
        # factorisation does not (and its fit has no sample_weight, so meta-estimators see that).
        if sample_weight is not None:
            raise ValueError(
                "MatrixFactorization does not take sample_weight: its neighbour correction and the seen "
                "items of recommend count every rating alike. Repeat or drop ratings instead"
            )
        return None

    def _learner(
        self,
        n_train: int,
        callbacks=(),
        sampler=None,
        valid_loss_func=None,
        diverge_ref=None,
        seed: int | None = None,
        progress: str = "fit",
    ) -> Learner:
        learner = super()._learner(n_train, callbacks, sampler, valid_loss_func, diverge_ref, seed, progress)
        if isinstance(self.model_, DotProductBias) and self.model_.embeds.sparse:
            learner.opt_func = LazyAdamW  # sparse gradients: update the touched rows only
        return learner

    # >>> the item-neighbourhood correction (tabdl.neighbours)
    def _set_neighbours(self, tables: dict[str, torch.Tensor] | None) -> None:
        """Install (None: empty) the correction's tables; the config follows, so save/load agree."""
        nbrs = getattr(self.model_, "neighbours", None)
        if nbrs is not None:
            nbrs.set_tables(tables)
            self.model_config_["neighbours"] = nbrs.config

    def _cycle_learner(
        self,
        train: TensorData,
        callbacks=(),
        *,
        continued: bool = False,
        seed: int | None = None,
        progress: str = "fit",
    ) -> Learner:
        # Old residuals describe the old factors: a cycle validates the factors alone, and
        # _after_training fits the correction again. The ratings behind the old tables (residual
        # plus the old factors' score) ride along with the cycle's learner into that refit, so a
        # cycle on new ratings adds to what the correction knew instead of replacing it.
        nbrs = getattr(self.model_, "neighbours", None)
        pairs, residuals = nbrs.known_pairs() if nbrs is not None else (None, None)
        self._set_neighbours(None)
        learner = super()._cycle_learner(train, callbacks, continued=continued, seed=seed, progress=progress)
        held = self.__dict__.get("_fine_tune_known")
        if held:  # fine_tune's unfrozen phase: its frozen phase's tables hold X's ratings already
            learner.known_ratings = held[0]
            return learner
        known = pairs is not None and len(pairs)
        learner.known_ratings = (pairs, self._factor_scores(pairs) + residuals) if known else None
        if held is not None:
            held.append(learner.known_ratings)
        return learner

    def fine_tune(
        self,
        X: Any,
        y: Any,
        *,
        epochs: int = 3,
        freeze_epochs: int | None = 1,
        lr: float | slice | None = None,
        sample_weight: Any = None,
        eval_set: tuple[Any, ...] | None = None,
    ):
        """fastai's two-phase recipe on the fitted model: the head alone, then every layer group.

        Both phases are plain one-cycles (``pct_start`` 0.25, ``div`` 25). The ratings join the
        seen pairs of ``recommend``, and the neighbour correction is fitted again once, on the
        ratings its tables held before the call plus X's. A frozen phase that diverges (or is
        interrupted) ends the call there, with its best weights and ``diverged_``; an error
        leaves the model as it was.

        Parameters
        ----------
        X : DataFrame or array-like
            (user, item) rows, as ``predict`` takes them. The vocabularies stay those of the
            first fit: ids it did not know stay unknown.
        y : array-like of shape (n_ratings,)
            The ratings (see ``y_range`` on ratings outside ``y_range_``).
        epochs : int > 0, default=3
            Epochs of the unfrozen phase.
        freeze_epochs : int >= 0 or None, default=1
            Epochs of the frozen phase first, at the top LR, training the last layer group
            only: for kind="dot" that is the global offset ``g`` alone (the factors and biases
            stay fixed), for kind="nn" the MLP's head. 0 or None: no frozen phase.
        lr : float, slice or None, default=None
            The unfrozen phase's LR per layer group (see the ``lr`` parameter). None:
            ``slice(self.lr / 100, self.lr)``, which for kind="dot" (two groups) trains the factor
            table at ``self.lr / 100`` and ``g`` at ``self.lr``; pass a float to train the
            factors at that LR.
        sample_weight : None
            Not taken: anything else is a ``ValueError`` (the neighbour correction and the seen
            items of ``recommend`` count every rating alike).
        eval_set : (X_valid, y_valid) or None, default=None
            Ratings scored after every epoch of both phases: each keeps its epoch of the lowest
            validation loss, and ``patience`` and ``metrics`` read them. Without it the phases
            have no validation part (``validation_fraction`` serves ``fit`` only) and keep their
            last epoch.

        Returns
        -------
        self
        """
        # Both phases train on (X, y), and each cycle refits the correction on the ratings known
        # before it plus its own: the unfrozen phase added X's ratings a second time (3:1 to the new
        # rating of a pair rated before). Both phases start from the ratings known before the call.
        self._fine_tune_known: list = []
        try:
            return super().fine_tune(
                X, y, epochs=epochs, freeze_epochs=freeze_epochs, lr=lr, sample_weight=sample_weight, eval_set=eval_set
            )
        finally:
            self.__dict__.pop("_fine_tune_known", None)

    def lr_find(
        self,
        X: Any,
        y: Any,
        *,
        start_lr: float = 1e-7,
        end_lr: float = 10.0,
        num_it: int = 100,
        sample_weight: Any = None,
    ) -> LRFindResult:
        """Run the LR finder: ``num_it`` steps with the LR growing exponentially from ``start_lr``
        to ``end_lr``, stopped when the loss diverges. On a fitted model it probes the current
        factors and restores them; on an unfitted one it probes a freshly initialised model and
        leaves the estimator unfitted. ``sample_weight`` is not taken (anything but None is a
        ``ValueError``). Returns the result (``.lrs``, ``.losses``, ``.suggestion``, ``.valley``,
        ``.plot()``).
        """
        return super().lr_find(X, y, start_lr=start_lr, end_lr=end_lr, num_it=num_it, sample_weight=sample_weight)

    def _factor_scores(self, codes: torch.Tensor) -> np.ndarray:
        """The model's ratings for (user, item) code pairs (the factors alone while tables are empty)."""
        data = TensorData(codes, torch.zeros(len(codes), 0))
        return self._to_output(self._learner_for_predict().predict_raw(data))

    def _after_training(self, learner: Learner, train: TensorData, scored, *, fresh: bool = False) -> None:
        if not fresh:
            # A continued cycle's ratings are seen too (fit keeps the pairs of its own X).
            self._store_seen(train.x_cat.cpu().numpy(), merge=True)
        if getattr(self.model_, "neighbours", None) is None or not self.n_neighbors:
            return  # (n_neighbors set to 0 after a fit: the tables stay empty)
        codes, ratings = train.x_cat.cpu(), self._to_target(train.y)
        known = getattr(learner, "known_ratings", None)
        if known is not None:  # a pair rated again keeps the mean of its ratings, as within one fit
            codes, ratings = torch.cat([known[0], codes]), np.concatenate([known[1], ratings])
        residuals = ratings - self._factor_scores(codes)
        codes = codes.numpy()
        n_users, n_items = self.preprocessor_.cardinalities_
        self._set_neighbours(
            fit_item_neighbours(codes[:, 0], codes[:, 1], residuals, n_users, n_items, self.n_neighbors)
        )

    def _encode_target(self, y: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.asarray(y, dtype=np.float32).reshape(-1, 1))

    def _n_out(self) -> int:
        return 1

    def _loss(self) -> torch.nn.Module:
        if (self.reg or self.bias_reg) and self.kind == "dot":
            bias_reg = self.reg if self.bias_reg is None else self.bias_reg
            return _PenalisedMSE(self.model_, float(self.reg), float(bias_reg))
        return torch.nn.MSELoss()

    def _to_output(self, out: torch.Tensor) -> np.ndarray:
        return out.float().cpu().numpy()[:, 0].astype(np.float64)

    def _to_target(self, y: torch.Tensor) -> np.ndarray:
        return y.cpu().numpy()[:, 0].astype(np.float64)

    # >>> fit
    def _fit_nets(self, X: Any, y: Any, eval_set: tuple[Any, Any] | None, sample_weight: Any) -> MatrixFactorization:
        # Inside fit's unchanged_on_error: the ids and seen pairs below belong to the fit too.
        super()._fit_nets(X, y, eval_set, sample_weight)
        X = as_frame(X)
        pre = self.preprocessor_
        user, item = pre.cat_names_
        self.user_col_, self.item_col_ = user, item
        self.user_ids_ = _ids_for(X[user], pre.vocabs_[0])
        self.item_ids_ = _ids_for(X[item], pre.vocabs_[1])
        # Every known (user, item) pair of X, for recommend(exclude_seen=True).
        codes = pre.transform(X[[user, item]])[0].numpy()  # encoded once for both stores
        self._store_seen(codes, merge=False)
        self._store_seen_by_unknown_users(X, codes, merge=False)
        return self

    def fit_one_cycle(
        self,
        X: Any,
        y: Any,
        *,
        epochs: int = 1,
        lr: float | slice | None = None,
        sample_weight: Any = None,
        eval_set: tuple[Any, ...] | None = None,
    ) -> MatrixFactorization:
        """Train the fitted model further with one more one-cycle, keeping the vocabularies.

        Frozen layer groups (``freeze``) stay fixed. The ratings join the seen pairs of
        ``recommend``, and the neighbour correction is fitted again on the ratings its tables
        held plus the new ones, against the factors the cycle leaves.

        Parameters
        ----------
        X : DataFrame or array-like
            (user, item) rows, as ``predict`` takes them. The vocabularies stay those of the
            first fit: ids it did not know stay unknown.
        y : array-like of shape (n_ratings,)
            The ratings. With ``y_range="auto"`` they must lie inside ``y_range_`` (a
            ``ValueError`` otherwise: fit a new model for a new scale); with your own range,
            ratings outside it warn.
        epochs : int > 0, default=1
            Epochs of the cycle.
        lr : float, slice or None, default=None
            The cycle's peak LR per layer group (see the ``lr`` parameter); None: ``self.lr``.
        sample_weight : None
            Not taken: anything else is a ``ValueError`` (the neighbour correction and the seen
            items of ``recommend`` count every rating alike).
        eval_set : (X_valid, y_valid) or None, default=None
            Ratings scored after every epoch: the epoch of the lowest validation loss is kept,
            and ``patience`` and ``metrics`` read them. Without it the cycle has no validation
            part (``validation_fraction`` serves ``fit`` only) and keeps its last epoch.

        Returns
        -------
        self
        """
        super().fit_one_cycle(X, y, epochs=epochs, lr=lr, sample_weight=sample_weight, eval_set=eval_set)
        X = self._check_X_predict(X)
        codes = self.preprocessor_.transform(X[[self.user_col_, self.item_col_]])[0].numpy()
        self._store_seen_by_unknown_users(X, codes, merge=True)
        return self

    def _store_seen_by_unknown_users(self, X: pd.DataFrame, codes: np.ndarray, *, merge: bool) -> None:
        """The known items rated by users the model has no code for (rarer than ``min_count``,
        or new in a later cycle), by user key: recommend(exclude_seen=True) drops them too,
        though such a user is scored as the unknown user. ``codes``: X's (user, item) codes."""
        keys = category_keys(X[self.user_col_])
        rows = (codes[:, 0] == 0) & (codes[:, 1] > 0) & pd.notna(keys)
        seen = {k: set(v) for k, v in (getattr(self, "seen_by_unknown_users_", {}) if merge else {}).items()}
        for key, item in zip(keys[rows], codes[rows, 1].tolist()):
            seen.setdefault(key, set()).add(item)
        self.seen_by_unknown_users_ = {k: sorted(v) for k, v in seen.items()}  # JSON values for tabdl.io

    def _store_seen(self, codes: np.ndarray, *, merge: bool) -> None:
        """Keep the (user, item) code pairs of rated rows (unknown ids dropped) as the seen pairs,
        or, with ``merge``, add them to those already kept (continued training)."""
        codes = codes[(codes > 0).all(axis=1)]
        shape = (len(self.user_ids_) + 1, len(self.item_ids_) + 1)
        seen = sparse.csr_matrix((np.ones(len(codes), dtype=bool), (codes[:, 0], codes[:, 1])), shape=shape)
        if merge:
            seen = (seen + self._seen()).astype(bool)
        # Kept as plain CSR arrays (item codes per user code) so that tabdl.io stores them as JSON.
        self.seen_indptr_, self.seen_items_ = seen.indptr.astype(np.int64), seen.indices.astype(np.int64)

    def _seen(self) -> sparse.csr_matrix:
        data = np.ones(len(self.seen_items_), dtype=bool)
        shape = (len(self.user_ids_) + 1, len(self.item_ids_) + 1)
        return sparse.csr_matrix((data, self.seen_items_, self.seen_indptr_), shape=shape)

    def _check_loaded(self, model: torch.nn.Module) -> None:
        # The ids, the seen pairs and the neighbour tables index by the vocabularies' codes.
        n_users, n_items = (c - 1 for c in self.preprocessor_.cardinalities_)
        for key, n in (("user_ids_", n_users), ("item_ids_", n_items)):
            ids = getattr(self, key)
            if not isinstance(ids, np.ndarray) or ids.shape != (n,):
                raise ValueError(f"{key} does not hold the {n} ids of its vocabulary")
        indptr, items = self.seen_indptr_, self.seen_items_
        if not (
            isinstance(indptr, np.ndarray)
            and isinstance(items, np.ndarray)
            and indptr.dtype.kind in "iu"
            and items.dtype.kind in "iu"
            and indptr.shape == (n_users + 2,)
            and items.ndim == 1
        ):
            raise ValueError(f"seen_indptr_ / seen_items_ are not int arrays of {n_users + 2} offsets / item codes")
        if indptr[0] != 0 or indptr[-1] != len(items) or (np.diff(indptr) < 0).any():
            raise ValueError("seen_indptr_ does not index seen_items_")
        if len(items) and (items.min() < 0 or items.max() > n_items):
            raise ValueError(f"seen_items_ holds item codes outside 0..{n_items}")
        for key, rated in getattr(self, "seen_by_unknown_users_", {}).items():
            if not isinstance(rated, list) or not all(is_count(c) and 1 <= c <= n_items for c in rated):
                raise ValueError(f"seen_by_unknown_users_[{key!r}] holds item codes outside 1..{n_items}")
        y_range = self.y_range_
        if y_range is not None and not (
            isinstance(y_range, tuple) and len(y_range) == 2 and all(map(is_number, y_range))
        ):
            raise ValueError(f"y_range_ is {y_range!r}, not (low, high)")
        if not is_number(self.global_mean_):
            raise ValueError(f"global_mean_ is {self.global_mean_!r}, not a number")
        nb = getattr(model, "neighbours", None)
        if nb is not None and len(nb.pair_keys):
            keys, near = nb.pair_keys, nb.neighbour_items
            if keys[0] < 0 or keys[-1] >= (n_users + 1) * (n_items + 1) or (keys[1:] < keys[:-1]).any():
                raise ValueError("the neighbour tables' pair keys are not sorted (user, item) keys")
            if near.numel() and (near.min() < 0 or near.max() > n_items):
                raise ValueError(f"the neighbour tables hold item codes outside 0..{n_items}")

    def predict(self, X: Any) -> np.ndarray:
        """Ratings for (user, item) rows; unknown ids fall back to the global bias and known biases
        (kind="dot"; kind="nn" feeds the unknown id's vector to its MLP)."""
        return self._to_output(self._raw(X))

    # >>> learned tables
    def _fitted_dot(self) -> bool:
        """Whether the fitted model is kind="dot" (its tables end in the bias column): the model's
        kind, not the parameter's, which set_params after fit changes (item_factors_ then took the
        bias for a factor, similar_items scored it, and item_bias_ refused a model that has them)."""
        check_is_fitted(self, "model_")
        return isinstance(self.model_, DotProductBias)

    def _tables(self) -> tuple[np.ndarray, np.ndarray]:
        """(users, items) weight tables as numpy, row 0 = unknown; dot: the last column is the bias."""
        if self._fitted_dot():
            w = [self.model_.user_weight, self.model_.item_weight]
        else:
            w = [t.weight for t in self.model_.embeds.tables]
        return tuple(t.detach().float().cpu().numpy() for t in w)

    def _frame(self, which: int, bias: bool) -> pd.DataFrame:
        table = self._tables()[which][1:]
        ids, name = (self.user_ids_, self.user_col_) if which == 0 else (self.item_ids_, self.item_col_)
        index = pd.Index(ids, name=name)
        if bias:
            if not self._fitted_dot():
                raise AttributeError("only kind='dot' learns user and item biases")
            return pd.DataFrame({"bias": table[:, -1]}, index=index)
        cols = table[:, :-1] if self._fitted_dot() else table
        return pd.DataFrame(cols, index=index, columns=[f"f{j}" for j in range(cols.shape[1])])

    @property
    def user_factors_(self) -> pd.DataFrame:
        return self._frame(0, bias=False)

    @property
    def item_factors_(self) -> pd.DataFrame:
        return self._frame(1, bias=False)

    @property
    def user_bias_(self) -> pd.DataFrame:
        return self._frame(0, bias=True)

    @property
    def item_bias_(self) -> pd.DataFrame:
        return self._frame(1, bias=True)

    # >>> recommend / similar items
    def _codes(self, values: Sequence[Any], which: int) -> np.ndarray:
        return category_codes(pd.Series(list(values), dtype=object), self.preprocessor_._index[which])

    def _score_matrix(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """(U, I) predicted ratings for every pair, without a Python loop over items."""
        u, i = torch.from_numpy(users).to(self.device_), torch.from_numpy(items).to(self.device_)
        self.model_.eval()
        with torch.inference_mode():
            if isinstance(self.model_, DotProductBias):
                return self.model_.score_matrix(u, i).float().cpu().numpy().copy()  # writable, for masking
            # The MLP scores (user, item) rows: each row holds activations as wide as its widest
            # layer, so the items go in chunks of _SCORE_CHUNK activations (300 users x 20,000
            # items in one pass peaked at 6.7 GB).
            width = max([2 * self.model_config_["emb_dims"][0], *self.model_config_["layers"]])
            step = max(1, _SCORE_CHUNK // max(width * len(u), 1))
            out = np.empty((len(u), len(i)), dtype=np.float32)
            for s in range(0, len(i), step):
                ic = i[s : s + step]
                pairs = torch.stack([u.repeat_interleave(len(ic)), ic.repeat(len(u))], dim=1)  # (U * I', 2)
                scores = self.model_(pairs, torch.zeros(len(pairs), 0, device=self.device_))
                out[:, s : s + step] = scores.float().cpu().numpy().reshape(len(u), len(ic))
            return out

    def recommend(self, user: Any, k: int = 10, *, exclude_seen: bool = True) -> pd.DataFrame:
        """The top-``k`` items by predicted rating for one user, or for a list of users.

        Returns columns item, score (best first); a list of users adds a leading user column.
        ``exclude_seen`` drops the items the user rated in the data given to ``fit`` and to later
        training cycles (``fit_one_cycle``, ``fine_tune``). An unknown
        user gets the items with the best global mean plus item bias (kind="dot"; kind="nn" scores
        the unknown user's vector). Scores equal ``predict``'s. kind="nn" ranks poorly
        (recall@10 and NDCG@10 of 0 on movielens' test part, benchmarks/results/collab.md), so use
        kind="dot" to recommend.
        """
        check_is_fitted(self, "model_")
        check_positive("k", k, integer=True)
        if not isinstance(exclude_seen, (bool, np.bool_)):  # "no" was truthy: it excluded
            raise ValueError(f"exclude_seen must be True or False, got {exclude_seen!r}")
        # A DataFrame iterates over its column labels and a 2-D array over its rows: read as users,
        # they recommended for a user named "userId" (or one per row array), all unknown.
        if getattr(user, "ndim", 0) > 1:
            raise ValueError(
                f"user must be one id or a 1-D list of ids, got a {type(user).__name__} of shape "
                f"{getattr(user, 'shape', '?')}: pass one column, e.g. X['userId'].unique()"
            )
        # Any iterable but a string or a 0-d array is several users: np.ndim read a set, a dict's
        # keys or a generator as one object, which recommended for one unknown user.
        single = isinstance(user, (str, bytes)) or not isinstance(user, Iterable) or getattr(user, "ndim", None) == 0
        # A tuple is one id where ids are tuples (as in X's cells), else several users.
        single = single or isinstance(user, tuple) and any(isinstance(u, tuple) for u in self.user_ids_)
        users = [user] if single else list(user)
        if isinstance(user, Set):
            try:
                users.sort()
            except TypeError:  # mixed id types: the set's own order
                pass
        ucodes = self._codes(users, 0)
        n_items = len(self.item_ids_)
        icodes = np.arange(1, n_items + 1)
        k_eff = min(int(k), n_items)
        step = max(1, _SCORE_CHUNK // max(n_items, 1))
        seen = self._seen() if exclude_seen else None
        frames = []
        for s in range(0, len(users), step):
            uc = ucodes[s : s + step]
            scores = self._score_matrix(uc, icodes)  # (U, I), column j = item code j + 1
            if exclude_seen:
                rows, cols = seen[uc].nonzero()
                scores[rows, cols - 1] = -math.inf
                by_key = getattr(self, "seen_by_unknown_users_", {})  # files saved before it: none
                for r in np.flatnonzero(uc == 0) if by_key else ():
                    rated = by_key.get(category_keys(pd.Series([users[s + r]], dtype=object))[0], ())
                    scores[r, np.asarray(rated, dtype=np.int64) - 1] = -math.inf
            top, idx = torch.topk(torch.from_numpy(scores), k_eff, dim=1)  # sorted, best first
            top, idx = top.numpy(), idx.numpy()
            r = np.repeat(np.arange(len(uc)), k_eff)
            frame = pd.DataFrame(
                {
                    "user": pd.Series(users[s : s + step], dtype=object).to_numpy()[r],  # tuple ids stay 1-D
                    "item": self.item_ids_[idx.ravel()],
                    "score": top.ravel().astype(np.float64),
                }
            )
            frames.append(frame[np.isfinite(frame["score"].to_numpy())])
        # An empty list of users gets the empty table (pd.concat refuses an empty list).
        empty = pd.DataFrame({"user": np.empty(0, dtype=object), "item": self.item_ids_[:0], "score": np.empty(0)})
        out = pd.concat(frames, ignore_index=True) if frames else empty
        if single:
            return out.drop(columns="user")
        if all(
            isinstance(u, (int, np.integer)) and _whole_number(u) for u in users
        ):  # uint64 beyond int64 stay objects
            out["user"] = out["user"].astype(np.int64)
        return out

    def similar_items(self, item: Any, k: int = 10) -> pd.DataFrame:
        """The ``k`` items whose factors have the highest cosine similarity to ``item``'s."""
        check_is_fitted(self, "model_")
        check_positive("k", k, integer=True)
        code = int(self._codes([item], 1)[0])
        if code == 0:
            raise ValueError(f"item {item!r} was not seen at fit (or fewer than min_count times)")
        q = self._tables()[1][1:]
        q = q[:, :-1] if self._fitted_dot() else q
        q = q / np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-12)
        sims = q @ q[code - 1]  # (I,)
        sims[code - 1] = -np.inf  # not its own neighbour
        k_eff = min(int(k), len(sims) - 1)
        top = np.argpartition(-sims, k_eff - 1)[:k_eff] if k_eff > 0 else np.array([], dtype=int)
        top = top[np.argsort(-sims[top], kind="stable")]
        return pd.DataFrame({"item": self.item_ids_[top], "similarity": sims[top].astype(np.float64)})

    # >>> export
    def embedding_encoder(self, **params):
        # Inherited from the tabular estimators, whose EntityEmbeddingEncoder rebuilds a net from
        # cat_features & co: a MatrixFactorization has none, and failed with an AttributeError.
        raise AttributeError("MatrixFactorization exports its factors with user_encoder() and item_encoder()")

    def user_encoder(self, *, include_bias: bool = False) -> FactorEncoder:
        """A fitted transformer mapping user ids to their factor vectors (unknown -> zeros)."""
        return self._encoder(0, include_bias)

    def item_encoder(self, *, include_bias: bool = False) -> FactorEncoder:
        """A fitted transformer mapping item ids to their factor vectors (unknown -> zeros)."""
        return self._encoder(1, include_bias)

    def _encoder(self, which: int, include_bias: bool) -> FactorEncoder:
        table = self._frame(which, bias=False)
        if include_bias:
            table = table.join(self._frame(which, bias=True))
        column = self.user_col_ if which == 0 else self.item_col_
        return FactorEncoder(factors=table, column=column, prefix=f"{column}_").fit()


class FactorEncoder(TransformerMixin, BaseEstimator):
    """Maps one id column to fixed vectors (the rows of ``factors``); torch-free, ``np.take``.

    ``factors`` is a DataFrame indexed by id. Ids are matched by the same normalised keys as the
    tabular preprocessor (7, 7.0 and "7" meet); unknown or missing ids map to zeros. The table is a
    parameter, so ``clone`` (in a Pipeline or ColumnTransformer) keeps it and ``fit`` only indexes it.

    ``transform`` takes a Series, a 1-D array, a one-column array/frame, or a frame holding
    ``column``.
    """

    def __init__(self, *, factors: pd.DataFrame | None = None, column: Any = None, prefix: str = ""):
        self.factors = factors
        self.column = column
        self.prefix = prefix

    def fit(self, X: Any = None, y: Any = None) -> FactorEncoder:
        if not isinstance(self.factors, pd.DataFrame):
            raise ValueError(f"factors must be a DataFrame indexed by id, got {type(self.factors).__name__}")
        keys = category_keys(pd.Series(self.factors.index.to_numpy(object), dtype=object))
        if pd.isna(keys).any() or len(set(keys)) != len(keys):
            raise ValueError("factors' index must hold distinct, non-missing ids")
        self.vocabulary_ = pd.Index(keys, dtype=object)
        values = self.factors.to_numpy(dtype=np.float32)
        self.table_ = np.vstack([np.zeros((1, values.shape[1]), np.float32), values])  # row 0: unknown
        # The X it is fitted on, as a Pipeline reads it (transform picks ``column`` from a wider frame)
        self.n_features_in_ = 1 if X is None or np.ndim(X) < 2 else int(np.shape(X)[1])
        if isinstance(X, pd.DataFrame) and all(isinstance(c, str) for c in X.columns):
            self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # ids of any kind, missing ones included (they map to zeros), in a 1-D Series or array
        tags.input_tags.allow_nan = tags.input_tags.string = tags.input_tags.categorical = True
        tags.input_tags.one_d_array = True
        tags.transformer_tags.preserves_dtype = []  # float32 vectors, whatever the ids
        return tags

    def _column(self, X: Any) -> pd.Series:
        if isinstance(X, pd.Series):
            return X
        if isinstance(X, pd.DataFrame):
            if self.column is not None and self.column in X.columns:
                return X[self.column]
            if X.shape[1] == 1:
                return X.iloc[:, 0]
            raise ValueError(f"X has {X.shape[1]} columns and no column {self.column!r}: pass the id column")
        arr = np.asarray(X, dtype=object)
        if arr.ndim == 2 and arr.shape[1] == 1:
            arr = arr[:, 0]
        if arr.ndim != 1:
            raise ValueError(f"FactorEncoder maps one id column, got an array of shape {arr.shape}")
        return pd.Series(arr, dtype=object)

    def transform(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "table_")
        codes = category_codes(self._column(X), self.vocabulary_)  # unknown -> 0
        return np.take(self.table_, codes, axis=0)  # (n, n_factors)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        check_is_fitted(self, "table_")
        if input_features is not None:  # checked as scikit-learn checks it; the names are the factors'
            _check_feature_names_in(self, input_features)
        return np.asarray([f"{self.prefix}{c}" for c in self.factors.columns], dtype=object)
