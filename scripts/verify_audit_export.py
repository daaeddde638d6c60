#!/usr/bin/env python3
"""Check an audit export offline, with nothing but Python's standard library.

    python3 scripts/verify_audit_export.py audit-export.jsonl

An export (the audit log page's "Export", or GET /audit/export) is JSON Lines: a
first line saying what it is, then one event a line, oldest first. For every event
this recomputes its hash by the published rule:

    hash = sha256(prev_hash || canonical_json(seq, at, actor_id, actor, action,
                                              subject_type, subject_id, data))

and where two events are consecutive (event n and n + 1), checks that the second
names the first's hash as its prev_hash. Exit 0 if every event holds, 1 otherwise,
naming the first that does not. The events outside the selection are not in the
file: that each selected event is the one the chain holds is shown by its hash,
which the chain's later events (and its signed checkpoints) depend on."""

import hashlib
import json
import sys

FIELDS = ("seq", "at", "actor_id", "actor", "action", "subject_type", "subject_id", "data")


def canonical_json(fields: dict) -> bytes:
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def check(lines) -> tuple[bool, str]:
    header = json.loads(next(lines))
    if header.get("export") != "Due Process audit events":
        return False, "the first line does not say it is an audit export"
    events = linked = 0
    previous = None
    for number, line in enumerate(lines, start=2):
        event = json.loads(line)
        fields = {key: event[key] for key in FIELDS}
        recomputed = hashlib.sha256(event["prev_hash"].encode("ascii") + canonical_json(fields)).hexdigest()
        if recomputed != event["hash"]:
            return False, f"event {event['seq']} (line {number}): its content does not match its hash"
        if previous is not None and event["seq"] == previous["seq"] + 1:
            if event["prev_hash"] != previous["hash"]:
                return False, f"event {event['seq']} does not name event {previous['seq']}'s hash"
            linked += 1
        previous, events = event, events + 1
    head = header.get("head", {})
    return True, (f"{events} events, each hash recomputed; {linked} links between consecutive events "
                  f"checked; the chain's head when exported: event {head.get('seq')}, {head.get('hash')}")


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__.split("\n\n")[1])
        return 2
    with open(sys.argv[1], encoding="utf-8") as export:
        try:
            intact, message = check(iter(export))
        except (json.JSONDecodeError, KeyError, StopIteration, AttributeError) as exc:
            intact, message = False, f"not an audit export ({exc.__class__.__name__})"
    print(("intact: " if intact else "broken: ") + message)
    return 0 if intact else 1


if __name__ == "__main__":
    sys.exit(main())
