"""Compiled loops of the restorer (numba): the LM's hash lookups with backoff, one key at a time (the
slots of keys ahead prefetched), the lattice's combinations of positions and local posterior sums, and
the Viterbi recursions, step after step, without a Python round trip per key or per step.

Each kernel computes exactly what the whole-array numpy code it replaced computed (the same float32
and float64 operations in the same order, ties broken the same way), so restored text and confidences
are unchanged. The kernels check no bounds: the LM's tables they index are checked once per load (see
`lm.NgramModel`); the step and backtrack index arrays they are given are built by `decode`, in range by
construction. Compiled code is cached under the user's cache folder (see `pipeline.defaults.cache_dir`;
`prepare`, on first use, not at import) so that only the first process compiles it; where that folder
cannot be made or written, every process compiles it on first use."""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Callable
from typing import Any

import numba
import numpy as np
from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic

from pipeline.defaults import cache_dir

_KERNELS: list[Any] = []  # the compiled functions called from Python, whose code `prepare` caches
_lock = threading.Lock()
_cached: bool | None = None  # whether their code is cached; None: not decided yet
# numba's compiler off (NUMBA_DISABLE_JIT=1, to debug the loops as Python): nothing compiled nor cached
_JIT_OFF = bool(getattr(numba.config, "DISABLE_JIT", False))


def _compiled(function: Callable[..., Any]) -> Any:
    """`function` compiled on its first call, its code cached once `prepare` allows it."""
    dispatcher = numba.njit(nogil=True)(function)
    _KERNELS.append(dispatcher)
    return dispatcher


def prepare() -> bool:
    """Cache the kernels' compiled code in NUMBA_CACHE_DIR, else the user's cache folder: called once
    the loops are about to run (the LM loads), so that importing the restorer creates no folder. The
    folder is made here if absent (nothing cached: this process compiles); a folder that cannot be
    made or written is left alone and the loops compile in every process. Returns whether the code
    is cached. Later calls return the first's answer."""
    global _cached
    with _lock:
        if _cached is None:
            _cached = not _JIT_OFF and _enable_cache(
                os.environ.get("NUMBA_CACHE_DIR") or str(cache_dir() / "numba")
            )
        return _cached


def _enable_cache(folder: str) -> bool:
    try:
        os.makedirs(folder, exist_ok=True)
        tempfile.TemporaryFile(dir=folder).close()
    except OSError:
        return False  # (numba would fall back to the source tree's __pycache__: not ours to write)
    config: Any = numba.config
    earlier = config.CACHE_DIR
    config.CACHE_DIR = folder  # read once per function, by its cache's locator
    try:
        for kernel in _KERNELS:
            kernel.enable_caching()
    finally:
        config.CACHE_DIR = earlier
    return True


BITS = 15  # bits per unit id inside a packed n-gram key (vocabulary < 32768)
HASH_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing
PAYLOAD_SHIFT = 47  # a hash slot holds a packed n-gram key (≤ 45 bits) and a 16-bit payload above it
KEY_MASK = (1 << PAYLOAD_SHIFT) - 1
_HALF = np.uint64(32)
# keys ahead of the one being scored whose hash slots are asked of memory: the tables are far larger
# than the CPU's caches, so that each probe waits on memory; asked early, many probes wait at once
PREFETCH_AHEAD = 16


def _prefetch_typed(typingctx: Any, array: Any, index: Any) -> Any:
    """`_prefetch(array, index)`: ask memory for `array[index]` (LLVM's prefetch, for reading, kept in
    every cache level), a hint that changes nothing the code computes."""
    signature = types.void(array, index)

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        array_type = sig.args[0]
        view = context.make_array(array_type)(context, builder, args[0])
        pointer = cgutils.get_item_pointer(context, builder, array_type, view, [args[1]], wraparound=False)
        byte_pointer = ir.IntType(8).as_pointer()
        int32 = ir.IntType(32)
        function_type = ir.FunctionType(ir.VoidType(), [byte_pointer, int32, int32, int32])
        prefetch = cgutils.get_or_insert_function(builder.module, function_type, "llvm.prefetch")
        # (address, read, locality 3: keep in all cache levels, data cache)
        builder.call(prefetch, [builder.bitcast(pointer, byte_pointer), int32(0), int32(3), int32(1)])
        return context.get_dummy_value()

    return signature, codegen


def _no_prefetch(array: np.ndarray, index: int) -> None:
    """`_prefetch` where numba compiles nothing (NUMBA_DISABLE_JIT=1): the loops run as Python, where
    an intrinsic cannot, and a hint is nothing to miss."""


# (called with the array and the index only)
_prefetch: Any = _no_prefetch if _JIT_OFF else intrinsic(_prefetch_typed)


@numba.njit(nogil=True, inline="always")
def _home(slots: np.uint64, key: np.int64) -> np.int64:
    """The slot where `key`'s probe starts in a table of `slots` slots."""
    return np.int64((((np.uint64(key) * HASH_MULTIPLIER) >> _HALF) * slots) >> _HALF)


@numba.njit(nogil=True)
def _find(table: np.ndarray, payload: np.ndarray, slots: np.uint64, key: np.int64) -> np.int64:
    """Payload of `key` in an open-addressing table (lm.HashIndex), −1 where absent; an empty
    `payload` array: the payload is packed above the key in its slot."""
    position = _home(slots, key)
    packed = payload.size == 0
    while True:
        found = table[position]
        if packed:
            if (found & KEY_MASK) == key:  # an empty slot (−1) masks to KEY_MASK, never a key
                return found >> PAYLOAD_SHIFT
        elif found == key:
            return np.int64(payload[position])
        if found == -1:
            return np.int64(-1)
        position += 1


@_compiled
def find_keys(table: np.ndarray, payload: np.ndarray, slots: np.uint64, keys: np.ndarray) -> np.ndarray:
    """`_find` of every key."""
    out = np.empty(len(keys), dtype=np.int64)
    for i in range(len(keys)):
        out[i] = _find(table, payload, slots, keys[i])
    return out


@_compiled
def score_keys(
    keys: np.ndarray,
    n: int,
    tables: tuple[np.ndarray, ...],
    payloads: tuple[np.ndarray, ...],
    slots: np.ndarray,
    logps: tuple[np.ndarray, ...],
    backoffs: tuple[np.ndarray, ...],
    uni_logp: np.ndarray,
    uni_bo: np.ndarray,
) -> np.ndarray:
    """ln P(last | preceding n − 1 units) of packed n-gram keys with backoff (lm.NgramModel.score):
    per order m (index m of the tuples; 0 and 1 unused), its hash table, payloads, slot count,
    log-probability codebook and backoff codebook (empty: no backoffs). A missed n-gram scores as
    its (n − 1)-gram plus its context's backoff, the backoffs added innermost first, in float32.
    The probes of the key PREFETCH_AHEAD keys on are prefetched meanwhile."""
    out = np.empty(len(keys), dtype=np.float32)
    pending = np.empty(max(n, 1), dtype=np.float32)
    # ahead of each key's probes, the first slot of every probe the key PREFETCH_AHEAD keys on may
    # make: its n-gram, and after a miss each shorter n-gram and the context whose backoff is added
    for i in range(-PREFETCH_AHEAD, len(keys)):
        if n >= 2 and i + PREFETCH_AHEAD < len(keys):
            ahead = keys[i + PREFETCH_AHEAD]
            _prefetch(tables[n], _home(np.uint64(slots[n]), ahead))
            for m in range(n - 1, 1, -1):
                _prefetch(tables[m], _home(np.uint64(slots[m]), ahead & ((np.int64(1) << (BITS * m)) - 1)))
                if backoffs[m].size != 0:
                    context = (ahead & ((np.int64(1) << (BITS * (m + 1))) - 1)) >> BITS
                    _prefetch(tables[m], _home(np.uint64(slots[m]), context))
        if i < 0:
            continue
        key = keys[i]
        m = n
        held = 0
        value = np.float32(0.0)
        while m >= 2:
            code = _find(tables[m], payloads[m], np.uint64(slots[m]), key)
            if code >= 0:
                value = logps[m][code & 0xFF]
                break
            context = key >> BITS
            if m == 2:
                pending[held] = uni_bo[context]
            elif backoffs[m - 1].size == 0:
                pending[held] = np.float32(0.0)
            else:
                found = _find(tables[m - 1], payloads[m - 1], np.uint64(slots[m - 1]), context)
                pending[held] = backoffs[m - 1][found >> 8] if found >= 0 else np.float32(0.0)
            held += 1
            m -= 1
            key &= (np.int64(1) << (BITS * m)) - 1
        if m == 1:
            value = uni_logp[key]
        for j in range(held - 1, -1, -1):
            value = value + pending[j]
        out[i] = value
    return out


@_compiled
def viterbi_steps(
    best: np.ndarray,
    came: np.ndarray,
    step_score: np.ndarray,
    back: np.ndarray,
    step_states: np.ndarray,
    first: int,
) -> None:
    """The Viterbi recursion over numbered states (`_Lattice.viterbi`): for the states of each step
    from `first` (`step_states[i]` .. `step_states[i + 1]`), the best of `best[came] + step_score`
    over the row into `best`, and its column (the first of equal ones) into `back`."""
    width = came.shape[1]
    for i in range(first, len(step_states) - 1):
        for state in range(step_states[i], step_states[i + 1]):
            top = best[came[state, 0]] + step_score[state, 0]
            column = 0
            for j in range(1, width):
                total = best[came[state, j]] + step_score[state, j]
                if total > top:
                    top, column = total, j
            back[state] = column
            best[state] = top


@_compiled
def bigram_steps(
    forward: np.ndarray, predecessor: np.ndarray, pair: np.ndarray, starts: np.ndarray, settled: np.ndarray
) -> None:
    """The bigram Viterbi of pruning (`_Lattice._bigram_paths`), all segments together: at step i,
    for the segments from `settled[i]` on, the best of `forward[i − 1] + pair` over the previous slot
    (the first of equal ones)."""
    last = pair.shape[0] - 1
    width = pair.shape[1]
    for i in range(1, forward.shape[0]):
        for segment in range(settled[i], forward.shape[1]):
            row = min(starts[segment] + i, last)
            for slot in range(width):
                top = forward[i - 1, segment, 0] + pair[row, 0, slot]
                column = 0
                for previous in range(1, width):
                    total = forward[i - 1, segment, previous] + pair[row, previous, slot]
                    if total > top:
                        top, column = total, previous
                predecessor[i, segment, slot] = column
                forward[i, segment, slot] = top


@_compiled
def backtrack(
    current: np.ndarray,
    came_from: np.ndarray,
    newest: np.ndarray,
    starts: np.ndarray,
    lengths: np.ndarray,
    first: int,
    choice: np.ndarray,
) -> None:
    """Each segment's path back from its final state `current[s]`: the newest candidate of each state
    into `choice` (positions `first` .. length − 1 of the segment), then the state it came from."""
    for segment in range(len(starts)):
        state = current[segment]
        for i in range(lengths[segment] - 1, first - 1, -1):
            choice[starts[segment] + i] = newest[state]
            state = came_from[state]


@_compiled
def links(counts: np.ndarray, segment: np.ndarray, offsets: np.ndarray, span: int) -> tuple[np.ndarray, np.ndarray]:
    """All candidate combinations of `span` consecutive positions of one segment (`_Lattice._links`),
    by end position, each end's combinations numbered with the oldest member most significant: the
    end position of each and the global candidate index of each member (row 0 the oldest)."""
    total = 0
    for end in range(span - 1, len(counts)):
        if segment[end] == segment[end - span + 1]:
            size = 1
            for back in range(span):
                size *= counts[end - back]
            total += size
    owner = np.empty(total, dtype=np.int64)
    members = np.empty((span, total), dtype=np.int64)
    at = 0
    for end in range(span - 1, len(counts)):
        if segment[end] != segment[end - span + 1]:
            continue
        size = 1
        for back in range(span):
            size *= counts[end - back]
        for local in range(size):
            owner[at] = end
            rest = local
            for back in range(span):
                position = end - back
                members[span - 1 - back, at] = offsets[position] + rest % counts[position]
                rest //= counts[position]
            at += 1
    return owner, members


@_compiled
def local_scores(
    decided: np.ndarray,
    within: np.ndarray,
    segment_length: np.ndarray,
    counts: np.ndarray,
    choice: np.ndarray,
    link_start: np.ndarray,
    link_score: np.ndarray,
    n: int,
    width: int,
) -> np.ndarray:
    """Per decided position and candidate (`_Lattice.viterbi`'s local posterior, before normalising):
    the sum, over the n n-grams touching the position, of the n-gram's score with its other members
    fixed to their chosen candidates (0 for one past the segment's end; −inf for a missing candidate),
    added in the order of the n-grams' ends, as the whole-array code added them."""
    local = np.zeros((len(decided), width))
    stride = np.empty(n, dtype=np.int64)
    for row in range(len(decided)):
        position = decided[row]
        for t in range(n):
            if within[position] + t >= segment_length[position]:
                continue  # one past the segment's end: the n-gram adds 0
            end = position + t
            # the n-gram ending at `end` (member j at end − n + 1 + j): the index of its link within
            # the end's links weighs each member's candidate by the combinations of the later members
            stride[n - 1] = 1
            for j in range(n - 2, -1, -1):
                stride[j] = stride[j + 1] * counts[end - n + 2 + j]
            free = n - 1 - t  # the member at the decided position
            held = link_start[end]
            for j in range(n):
                if j != free:
                    held += choice[end - n + 1 + j] * stride[j]
            for slot in range(width):
                if slot < counts[position]:
                    local[row, slot] += link_score[held + slot * stride[free]]
                else:
                    local[row, slot] += -np.inf
    return local
