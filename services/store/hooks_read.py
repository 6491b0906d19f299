"""Reads of the webhook tries (`hook_attempts`, written by `picket.hooks.deliverer`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from picket.store.client import Store


def last_attempts(store: Store, target_ids: Sequence[str]) -> dict[str, bool]:
    """Whether each target's latest try succeeded; a target never tried (or not within the
    table's 30 days) is absent."""
    ids = list(dict.fromkeys(target_ids))
    if not ids:
        return {}
    rows = store.query(
        "SELECT target_id, argMax(ok, (at, attempt)) FROM {db}.hook_attempts"
        " WHERE target_id IN {ids:Array(String)} GROUP BY target_id", {"ids": ids})
    return {str(target): bool(ok) for target, ok in rows}


def finished(store: Store, delivery_ids: Iterable[str]) -> set[str]:
    """Which of `delivery_ids` are finished: delivered (a try answered 2xx) or given up on (a try
    after which the delivery was dead-lettered). The deliverer sends none of them again."""
    ids = list(dict.fromkeys(delivery_ids))
    if not ids:
        return set()
    rows = store.query("SELECT DISTINCT id FROM {db}.hook_attempts WHERE (ok = 1 OR gave_up = 1)"
                       " AND id IN {ids:Array(String)}", {"ids": ids})
    return {str(i) for (i,) in rows}
