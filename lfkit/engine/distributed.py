"""The Dask engine: the same rules on a Dask cluster, partition by partition, in row order.

Each partition of a `dask.dataframe.DataFrame` goes through `lfkit.apply_rules` on a worker;
the client stacks the sparse per-partition votes in partition order, so the result equals
the local engine's on the same rows, row for row. Files are read partition by partition on
the workers, by the partitions of `lfkit.data.split_data` (the same readers a single process
uses). The label model's counts per partition live a layer up, in lfkit.model.distributed.

Workers need lfkit installed (the same version); a rule set travels to each worker once
and is compiled there on first use.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import socket
import struct
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import dask
import dask.dataframe as dd
import numpy as np
import pandas as pd
from dask.base import compute
from dask.delayed import delayed
from distributed import Client, Future, default_client
from scipy import sparse

from lfkit.data import Partition, split_data
from lfkit.engine.apply import _fields, apply_rules
from lfkit.engine.votes import Votes
from lfkit.errors import ClusterError, DataError, OptionError
from lfkit.readers import BLOCKSIZE
from lfkit.rules.ruleset import RuleSet
from lfkit.rules.schema import Task

_RULESETS: dict[str, RuleSet] = {}
"""Rule sets a worker process has seen, by content: compiled plans are cached per object."""


def connect(
    scheduler: str | None = None, local_workers: int | None = None, *, timeout: str = "10s"
) -> Client:
    """Return a Dask client: of a running scheduler, or of a new cluster on this machine.

    Use it as a context manager; closing the client also stops a cluster it started.

    Parameters
    ----------
    scheduler
        Address of a running scheduler, such as ``tcp://10.0.0.5:8786``.
    local_workers
        Without `scheduler`: worker processes of a new local cluster (one thread each),
        listening on 127.0.0.1 only. Default: one per CPU.
    timeout
        How long to wait for the scheduler.

    Raises
    ------
    OptionError
        When both or a bad number are given.
    ClusterError
        When the scheduler cannot be reached.
    """
    if scheduler and local_workers is not None:
        raise OptionError(
            "local_workers",
            "give either a scheduler address or a number of local workers, not both",
        )
    if scheduler:
        _check_scheduler(scheduler, float(str(timeout).removesuffix("s")))
        try:
            return Client(scheduler, timeout=timeout)
        except (OSError, TimeoutError, ValueError, TypeError) as err:
            raise ClusterError(
                f"cannot reach the Dask scheduler at {scheduler} ({err})", _START_ONE
            ) from None
    workers = local_workers if local_workers is not None else os.cpu_count() or 1
    if workers < 1:
        raise OptionError(
            "local_workers", f"a local cluster needs at least 1 worker, got {workers}"
        )
    return Client(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=":0",  # any free port: never clash with another cluster
    )


_HANDSHAKE_MAX_BYTES = 1 << 20
_START_ONE = "start one with 'dask scheduler' and give the address it prints (tcp://HOST:8786)"


def _check_scheduler(address: str, timeout: float) -> None:
    """Make sure a TCP address answers like a Dask scheduler before a Client trusts it.

    A Dask scheduler speaks first: a length-prefixed handshake of a few hundred bytes. A port
    that accepts and stays silent would block a Client forever, and one that answers
    something else (an HTTP server) can make it allocate exabytes for a "length".

    Raises
    ------
    ClusterError
        When the address cannot be reached, stays silent or does not speak Dask's protocol.
    """
    if "://" in address and not address.startswith("tcp://"):
        return  # tls:// and others: left to dask
    host, _, port = address.removeprefix("tcp://").rpartition(":")
    host = host.strip("[]")
    if not host or not port.isdigit():
        return  # let dask explain what is wrong with the address
    deadline = time.monotonic() + timeout
    try:
        with socket.create_connection((host, int(port)), timeout=timeout) as sock:
            header = _receive(sock, 8, deadline)
            (size,) = struct.unpack("Q", header)
            if not 0 < size <= _HANDSHAKE_MAX_BYTES:
                raise ClusterError(
                    f"{address} answered, but not as a Dask scheduler (a message of {size:,} "
                    "bytes announced)",
                    _START_ONE,
                )
            _receive(sock, size, deadline)
    except TimeoutError:
        raise ClusterError(
            f"{address} accepted the connection but sent no Dask handshake within "
            f"{timeout:g} s: not a Dask scheduler, or one that hangs",
            _START_ONE,
        ) from None
    except OSError as err:
        raise ClusterError(
            f"cannot reach the Dask scheduler at {address} ({err.strerror or err})", _START_ONE
        ) from None


def _receive(sock: socket.socket, size: int, deadline: float) -> bytes:
    data = b""
    while len(data) < size:
        sock.settimeout(max(deadline - time.monotonic(), 0.001))
        chunk = sock.recv(min(size - len(data), 65536))
        if not chunk:
            raise OSError(0, "the connection closed during the handshake")
        data += chunk
    return data


def read_data_dask(
    path: str | Path,
    task: Task,
    *,
    labels: bool = True,
    blocksize: int | None = BLOCKSIZE,
) -> dd.DataFrame:
    """Read a data source lazily: the partitions of `lfkit.data.split_data`, read on workers.

    Columns are checked here (from the first partition's header); ids and labels on the
    workers, when the data is computed, naming the file and the partition.

    Raises
    ------
    DataError
        As `split_data` does.
    """
    parts = split_data(path, task, labels=labels, blocksize=blocksize)
    with _keep_objects():
        frame: dd.DataFrame = dd.from_map(
            _read, parts, meta=parts[0].empty(), label="lfkit-read", enforce_metadata=False
        )
    return frame


def _read(part: Partition) -> pd.DataFrame:
    return part()


def _keep_objects() -> Any:
    """Keep object columns as they are: Dask would turn lists of tags into strings."""
    return dask.config.set({"dataframe.convert-string": False})


def map_partitions(
    func: Callable[..., Any], parts: Sequence[Any], *shared: Any, window: int | None = None
) -> Iterator[Any]:
    """Run ``func(part, *shared)`` for each partition on the cluster; yield results in order.

    The `shared` objects (a rule set, a fitted model) travel to each worker once. At most
    `window` partitions are in flight (default: two per worker thread), so results never
    pile up in this process: a caller that folds or writes them as they come holds one at a
    time. `lfkit.data.map_local` is the same in this process.

    Raises
    ------
    ClusterError
        When there is no Dask client (use `connect`); and whatever `func` raises on a worker.
    """
    try:
        client = default_client()
    except ValueError:
        raise ClusterError("no Dask cluster to run on", "connect to one first") from None
    threads = sum(client.nthreads().values()) or 1
    window = window or 2 * threads
    ready = [client.scatter(value, broadcast=True, hash=False) for value in shared]
    pending: deque[Future[Any]] = deque()
    for part in parts:
        pending.append(client.submit(func, part, *ready, pure=False))
        if len(pending) >= window:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def apply_rules_dask(ruleset: RuleSet, ddf: dd.DataFrame) -> Votes:
    """Apply every rule to every row on the cluster; return the local engine's votes, in order.

    Runs on the current Dask scheduler (the client of `connect`, once created, or any other).

    Raises
    ------
    DataError
        When a text column the rules need is not in the DataFrame (or, at compute time, when
        reading a partition fails).
    """
    _check_columns(ruleset, ddf, _fields(ruleset))
    rules = _shipped(ruleset)
    tasks = [delayed(_partition_votes)(*rules, part) for part in ddf.to_delayed()]
    fired = compute(*tasks)
    n_rules = len(ruleset)
    stacked = sparse.csr_array(
        sparse.vstack(fired, format="csr") if fired else sparse.csr_array((0, n_rules), dtype=bool)
    )
    stacked.sort_indices()
    values = np.array([rule.value for rule in ruleset.rules], dtype=np.int64)
    return Votes(stacked, values, tuple(ruleset.rule_names))


def _shipped(ruleset: RuleSet) -> tuple[Any, str]:
    """Return the rule set as one graph node (sent once per worker) and its content key."""
    key = hashlib.sha256(pickle.dumps(ruleset)).hexdigest()
    return delayed(ruleset, pure=True, traverse=False, name=f"lfkit-rules-{key}"), key


def _compiled(ruleset: RuleSet, key: str) -> RuleSet:
    """Return the copy of this rule set the worker process saw first, compiled already."""
    if key not in _RULESETS:
        if len(_RULESETS) >= 8:
            _RULESETS.pop(next(iter(_RULESETS)))
        _RULESETS[key] = ruleset
    return _RULESETS[key]


def _partition_votes(ruleset: RuleSet, key: str, df: pd.DataFrame) -> sparse.csr_array:
    return apply_rules(_compiled(ruleset, key), df).fired


def _check_columns(ruleset: RuleSet, ddf: dd.DataFrame, needed: Sequence[str]) -> None:
    missing = [column for column in needed if column not in ddf.columns]
    if missing:
        raise DataError(
            f"column '{missing[0]}' is not in the Dask DataFrame; "
            f"available: {', '.join(map(str, ddf.columns))}"
        )
