"""The compiled rule set: every rule reduced to RE2 regexes and token patterns, in column order."""

from __future__ import annotations

import collections
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from lfkit._types import LF_VOTES, LfVote
from lfkit.errors import check_choice
from lfkit.rules.functions import FunctionVote, bound_lfs, function_columns
from lfkit.rules.schema import Length, Score, Task

_T = TypeVar("_T")

if TYPE_CHECKING:
    from scipy import sparse
    from snorkel.labeling import LabelingFunction

    from lfkit._types import BoolArray, FloatArray, IntArray
    from lfkit.rules.lint import Location


@dataclass(frozen=True, eq=False)
class CompiledRule:
    """One column of the label matrix: where to look, what to look for, and what to vote."""

    name: str
    label: str
    value: int
    """The vote cast when the rule fires: 1/0 for a tag present/absent, or a class index."""
    positive: bool
    fields: tuple[str, ...]
    regexes: tuple[str, ...]
    token_patterns: tuple[Any, ...]
    unless_regexes: tuple[str, ...]
    unless_token_patterns: tuple[Any, ...]
    path: Path
    line: int
    length: Length | None = None
    """Fire only when the fields together have a length in this range."""
    score: Score | None = None
    """Fire only when this numeric column is in this range."""
    function: FunctionVote | None = None
    """A user's labeling function that casts this column's vote (then nothing else is tested)."""
    pipeline: str | None = None
    """The spaCy pipeline (package or folder) token patterns run on; None: spacy.blank('en')."""

    def __repr__(self) -> str:
        vote = self.value if self.positive or self.value else "0 (absent)"
        tests = [f"{len(self.regexes)} regexes"] if self.regexes else []
        tests += [f"{len(self.token_patterns)} token patterns"] if self.token_patterns else []
        tests += ["a function"] if self.function is not None else []
        fields = ", ".join(self.fields)
        return (
            f"CompiledRule({self.name!r} -> {self.label}, vote {vote}, "
            + ", ".join([*tests, f"fields: {fields}"])
            + ")"
        )

    @property
    def has_text_test(self) -> bool:
        """Say whether the rule looks for patterns in its fields (else its text always passes)."""
        return bool(self.regexes or self.token_patterns)

    @property
    def columns(self) -> tuple[str, ...]:
        """Return the data columns the rule reads: its fields, and its score column."""
        return self.fields + ((self.score.column,) if self.score else ())


@dataclass(frozen=True, eq=False)
class RuleSet:
    """Every enabled rule of a rules folder, compiled, plus the task and the taxonomy."""

    task: Task
    labels: tuple[str, ...]
    parents: dict[str, tuple[str, ...]]
    rules: tuple[CompiledRule, ...]
    warnings: tuple[str, ...] = ()
    disabled: tuple[str, ...] = ()
    numeric_labels: frozenset[str] = frozenset()
    """Labels that outputs write as numbers: all of them when every label is a whole number."""
    locations: dict[str, Location] = field(default_factory=dict)
    """Where things are written: 'task', 'task.KEY', 'label.NAME', 'rule.NAME', 'rule.NAME.KEY'."""

    _derived: dict[str, Any] = field(default_factory=dict, init=False, repr=False)
    """What layers above build from the rule set once (see `derived`); never pickled."""

    def __len__(self) -> int:
        return len(self.rules)

    def __getstate__(self) -> dict[str, Any]:
        """Pickle the fields only: matrices and compiled forms are rebuilt where needed."""
        return {f.name: self.__dict__[f.name] for f in fields(self) if f.name != "_derived"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state, _derived={})

    def derived(self, key: str, build: Callable[[RuleSet], _T]) -> _T:
        """Return `build(self)`, built on the first call with this key and kept with the rule
        set (it is immutable): the engine's compiled matchers live here. The cache lives and
        dies with the rule set; copies (`with_lfs`, pickling) start empty.

        Examples
        --------
        >>> from lfkit.rules.schema import Task
        >>> task = Task(kind="multiclass", text_columns=("text",), label_column="label")
        >>> ruleset = RuleSet(task, ("ham", "spam"), {}, ())
        >>> ruleset.derived("n", len) is ruleset.derived("n", lambda _: 1 / 0)
        True
        """
        if key not in self._derived:
            self._derived[key] = build(self)
        built: _T = self._derived[key]
        return built

    def __repr__(self) -> str:
        disabled = f", {len(self.disabled)} disabled" if self.disabled else ""
        return (
            f"RuleSet({self.task.kind}, {len(self.rules)} rules, {len(self.labels)} labels"
            f"{disabled}, text columns: {', '.join(self.task.text_columns)})"
        )

    @property
    def multilabel(self) -> bool:
        """Say whether a row has a set of tags (True) or exactly one class (False)."""
        return self.task.kind == "multilabel"

    @property
    def rule_names(self) -> list[str]:
        """Return the rule names in column order."""
        return [rule.name for rule in self.rules]

    def rule(self, name: str) -> CompiledRule:
        """Return the rule with this name.

        Raises
        ------
        KeyError
            When there is no such rule.
        """
        for rule in self.rules:
            if rule.name == name:
                return rule
        raise KeyError(name)

    def label_value(self, label: str) -> str | int:
        """Return a label as outputs write it: a number for labels that are numbers (0/1).

        Examples
        --------
        >>> from lfkit.rules.schema import Task
        >>> task = Task(kind="multiclass", text_columns=("text",), label_column="label")
        >>> ruleset = RuleSet(task, ("0", "1", "2x"), {}, (), numeric_labels=frozenset({"1"}))
        >>> [ruleset.label_value(label) for label in ruleset.labels]
        ['0', 1, '2x']
        """
        return int(label) if label in self.numeric_labels else label

    @cached_property
    def label_index(self) -> dict[str, int]:
        """Return each label's index: its position in `labels`, its column in label matrices."""
        return {label: index for index, label in enumerate(self.labels)}

    @cached_property
    def rule_labels(self) -> IntArray:
        """Return, per rule in column order, the index of the label it votes on (read-only)."""
        index = self.label_index
        found = np.fromiter((index[rule.label] for rule in self.rules), np.int64, len(self.rules))
        found.flags.writeable = False
        return found

    @cached_property
    def positive_rules(self) -> BoolArray:
        """Return, per rule in column order, whether it votes for its label (bool, read-only)."""
        found = np.fromiter((rule.positive for rule in self.rules), bool, len(self.rules))
        found.flags.writeable = False
        return found

    @cached_property
    def rule_label_matrix(self) -> sparse.csr_array:
        """Return (n_labels, n_rules) 0/1, sparse: [l, j] = 1 when rule j votes on label l.

        Examples
        --------
        >>> from lfkit.rules.schema import Task
        >>> task = Task(kind="multiclass", text_columns=("text",), label_column="label")
        >>> rule = CompiledRule("link", "spam", 1, True, ("text",), ("http",), (), (), (),
        ...     Path("r.yaml"), 1)
        >>> RuleSet(task, ("ham", "spam"), {}, (rule,)).rule_label_matrix.toarray().tolist()
        [[0.0], [1.0]]
        """
        return _matrix(self.rule_labels, np.arange(len(self.rules)), (len(self.labels), len(self)))

    @cached_property
    def support_matrix(self) -> sparse.csr_array:
        """Return (n_labels, n_rules) 0/1, sparse: [l, j] = 1 when rule j, firing, votes for
        label l: a positive rule of l or (multilabel) of a descendant of l."""
        positive = np.nonzero(self.positive_rules)[0]
        own = _matrix(self.rule_labels[positive], positive, (len(self.labels), len(self)))
        if not self.multilabel:
            return own
        rows, columns = (own + self.descendant_matrix @ own).nonzero()
        return _matrix(rows, columns, own.shape)

    @cached_property
    def speaks_matrix(self) -> sparse.csr_array:
        """Return (n_labels, n_rules) 0/1, sparse: [l, j] = 1 when rule j firing says something
        about label l. Multilabel: l's own rules and the positive rules of its descendants;
        multiclass: every rule (a vote for one class is a vote against the others)."""
        shape = (len(self.labels), len(self))
        if self.multilabel:
            rows, columns = (self.rule_label_matrix + self.support_matrix).nonzero()
        else:
            rows, columns = np.indices(shape).reshape(2, -1)
        return _matrix(rows, columns, shape)

    @cached_property
    def descendant_matrix(self) -> sparse.csr_array:
        """Return (n_labels, n_labels) 0/1, sparse: [a, c] = 1 when c is a descendant of a.

        Its size grows with the parent links along each chain, not with the labels squared.

        Examples
        --------
        >>> from lfkit.rules.schema import Task
        >>> task = Task(kind="multilabel", text_columns=("title",), label_column="tags")
        >>> ruleset = RuleSet(task, ("a", "b", "c"), {"a": ("b",), "b": ("c",)}, ())
        >>> ruleset.descendant_matrix.toarray().tolist()
        [[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [1.0, 1.0, 0.0]]
        """
        index = self.label_index
        pairs = [(index[a], index[label]) for label in self.labels for a in self.ancestors(label)]
        rows, columns = zip(*pairs, strict=True) if pairs else ((), ())
        return _matrix(rows, columns, (len(self.labels), len(self.labels)))

    @cached_property
    def ancestor_matrix(self) -> sparse.csr_array:
        """Return (n_labels, n_labels) 0/1, sparse: [c, a] = 1 when a is an ancestor of c."""
        return _read_only(self.descendant_matrix.T.tocsr())

    def label_votes(self, fired: sparse.csr_array) -> tuple[FloatArray, FloatArray]:
        """Return, per row and label, how many rules voted for it and how many against it.

        `fired` is (n_rows, n_rules), 0/1 (`Votes.fired`). Only a rule's own label counts
        (for a child's vote counting toward its ancestors, use `support_matrix`). Both arrays
        are dense, (n_rows, n_labels).

        Examples
        --------
        >>> from scipy import sparse
        >>> from lfkit.rules.schema import Task
        >>> task = Task(kind="multilabel", text_columns=("text",), label_column="tags")
        >>> rules = tuple(
        ...     CompiledRule(name, "spam", int(sign), sign, ("text",), ("x",), (), (), (),
        ...         Path("r.yaml"), 1) for name, sign in (("yes", True), ("no", False)))
        >>> ruleset = RuleSet(task, ("ham", "spam"), {}, rules)
        >>> pro, con = ruleset.label_votes(sparse.csr_array([[1, 1], [0, 1]]))
        >>> pro.tolist(), con.tolist()
        ([[0.0, 1.0], [0.0, 0.0]], [[0.0, 1.0], [0.0, 1.0]])
        """
        counts = []
        for sign in (True, False):
            chosen = self.positive_rules == sign
            per_label = self.rule_label_matrix[:, chosen].T
            counts.append((fired[:, chosen].astype(np.float64) @ per_label).toarray())
        return counts[0], counts[1]

    def ancestors(self, label: str) -> list[str]:
        """Return the parents of a label, their parents and so on, nearest first.

        Examples
        --------
        >>> from lfkit.rules.schema import Length, Score, Task
        >>> task = Task(kind="multilabel", text_columns=("title",), label_column="tags")
        >>> ruleset = RuleSet(task, ("a", "b", "c"), {"a": ("b",), "b": ("c",)}, ())
        >>> ruleset.ancestors("a")
        ['b', 'c']
        """
        found: dict[str, None] = {}  # ordered, with set lookups: linear in the chain
        frontier = collections.deque(self.parents.get(label, ()))
        while frontier:
            parent = frontier.popleft()
            if parent not in found and parent != label:
                found[parent] = None
                frontier.extend(self.parents.get(parent, ()))
        return list(found)

    def with_lfs(
        self,
        lfs: Any,
        *,
        label: str | int | None = None,
        vote: LfVote = "positive",
    ) -> RuleSet:
        """Return a rule set whose label matrix also has columns fed by your own functions.

        `lfs` is a Snorkel LabelingFunction or a function of a row (a pandas Series, as
        Snorkel's `PandasLFApplier` passes), a list of them, or a mapping {label: LFs}. Each
        column is named after its function and sits after the rules, so `apply_rules`, the
        label models, `analyze_rules` and `audit_labels` use it like any rule.

        Multiclass: a function returns a class index, a class name or -1 (abstain). Bound to
        a class (a mapping key, or `label=`) it is one column that votes that class; unbound,
        it is one column per class, named `name=class`. Multilabel: a function must be bound
        to the tag it votes on and returns 1 (present), 0 (absent) or -1; `vote` says which it
        may return: `positive` (a column `name` voting 1), `negative` (`name` voting 0) or
        `both` (`name` and `name=not`). A function that returns a vote it was not declared
        for stops `apply_rules` with a DataError naming it and the row.

        Raises
        ------
        FunctionError
            For an item that is not a function, a function without a name, an unknown
            label, a multilabel function not bound to a tag, or a column name already taken.
        OptionError
            For another `vote`.

        Examples
        --------
        >>> from lfkit.rules.schema import Task
        >>> task = Task(kind="multiclass", text_columns=("text",), label_column="label")
        >>> ruleset = RuleSet(task, ("ham", "spam"), {}, ())
        >>> def has_link(row):
        ...     return "spam" if "http" in row["text"] else -1
        >>> ruleset.with_lfs({"spam": has_link}).rule_names
        ['has_link']
        >>> ruleset.with_lfs([has_link]).rule_names
        ['has_link=ham', 'has_link=spam']
        """
        check_choice("vote", vote, LF_VOTES, "vote")
        taken = set(self.rule_names) | {self.task.id_column}
        added = []
        for function, bound in bound_lfs(lfs, label=label):
            columns = function_columns(
                function,
                bound,
                labels=self.labels,
                multilabel=self.multilabel,
                vote=vote,
                taken=taken,
                id_column=self.task.id_column,
            )
            code = getattr(getattr(function, "_f", function), "__code__", None)
            path = Path(code.co_filename) if code else Path("<python>")
            for name, column_label, value, voter in columns:
                added.append(
                    CompiledRule(
                        name=name,
                        label=column_label,
                        value=value,
                        positive=value == 1 or not self.multilabel,
                        fields=(),
                        regexes=(),
                        token_patterns=(),
                        unless_regexes=(),
                        unless_token_patterns=(),
                        path=path,
                        line=code.co_firstlineno if code else 0,
                        function=voter,
                    )
                )
        return replace(self, rules=self.rules + tuple(added))

    def to_snorkel(self) -> list[LabelingFunction]:
        """Return one Snorkel LabelingFunction per rule, in column order.

        Multilabel: each function votes 1 (its label present), 0 (absent) or -1 (abstain)
        for the label `ruleset.rules[j].label`. Multiclass: the class index or -1.
        """
        from lfkit.rules.lfs import make_labeling_functions

        return make_labeling_functions(self)

    def to_snorkel_by_label(self) -> dict[str, list[LabelingFunction]]:
        """Return a multilabel rule set's LabelingFunctions grouped by the tag they vote on.

        Each list is a binary task for one tag (1 present, 0 absent, -1 abstain): give it to
        its own Snorkel `LFAnalysis` or `LabelModel(cardinality=2)`, so rules for different
        tags are never read as conflicting. Tags without rules are left out. See
        docs/rules.md for a LabelModel per tag.

        Raises
        ------
        ValueError
            For a multiclass rule set: use `to_snorkel()`, all rules vote on one class.
        """
        if not self.multilabel:
            raise ValueError(
                "to_snorkel_by_label needs a multilabel rule set; a multiclass one has a single "
                "task: use to_snorkel()"
            )
        by_label: dict[str, list[LabelingFunction]] = {}
        lfs = self.to_snorkel()
        for label in self.labels:
            chosen = [lf for lf, rule in zip(lfs, self.rules, strict=True) if rule.label == label]
            if chosen:
                by_label[label] = chosen
        return by_label


def _matrix(rows: Any, columns: Any, shape: tuple[int, int]) -> sparse.csr_array:
    """Return a read-only sparse 0/1 float matrix with ones at (rows, columns)."""
    from scipy import sparse

    ones = np.ones(len(rows))
    matrix = sparse.csr_array(
        (ones, (np.asarray(rows, np.int64), np.asarray(columns, np.int64))), shape=shape
    )
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    return _read_only(matrix)


def _read_only(matrix: sparse.csr_array) -> sparse.csr_array:
    """Return the matrix in canonical form, its arrays read-only (rule sets are shared)."""
    matrix.sum_duplicates()
    for array in (matrix.data, matrix.indices, matrix.indptr):
        array.flags.writeable = False
    return matrix
