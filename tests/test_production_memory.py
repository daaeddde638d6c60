"""Packaging keeps memory flat: produce() streams the records and writes one stored
file at a time, so packaging an account eight times larger takes no more memory.
Both engines (on PostgreSQL the record listing runs on a server-side cursor)."""

import gc
import random
import tracemalloc

import sqlalchemy as sa

from models import Disclosure, db, utcnow
from tests.conftest import caller_for
from workflows.cases import machine as case_machine

MB = 1024 * 1024
ALL = ("subscriber", "non_content", "content")


def packaging_peak(case, case_staff) -> int:
    """The tracemalloc peak of Python's allocations while approve packages the case."""
    gc.collect()
    tracemalloc.start()
    try:
        case_machine.advance(case.id, case_machine.Move("approve"), caller_for(case_staff("approver2")),
                             utcnow())
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def manifest(case) -> dict:
    return db.session.scalar(sa.select(Disclosure.manifest).where(Disclosure.case_id == case.id))


def test_packaging_memory_stays_flat_as_the_account_grows(app, make_customer, make_case, plant, case_staff):
    make_customer(accounts=["large@archive.example", "small@archive.example"])
    rng = random.Random(7)
    # The peak follows the largest single file (its bytes, their compressed copy and
    # the sealing buffer: about 3.5 times the file), so every file here is 1 MB and
    # only their number differs: 24 against 3, with eight times the messages.
    for identifier, files, messages in (("large@archive.example", 24, 4000),
                                        ("small@archive.example", 3, 500)):
        plant(identifier, non_content=messages // 4, files=[rng.randbytes(MB) for _ in range(files)],
              content=[f"Message {n}: the shipment leaves on Friday from the north gate." for n in
                       range(messages)])
    large = make_case("pending_approval", identifiers=["large@archive.example"], categories=ALL,
                      date_range=None)
    small = make_case("pending_approval", identifiers=["small@archive.example"], categories=ALL,
                      date_range=None)

    small_peak = packaging_peak(small, case_staff)
    large_peak = packaging_peak(large, case_staff)

    # Everything went in: the large package really holds 24 MB of files and 4,000 messages.
    packaged = manifest(large)
    assert packaged["record_counts"]["large@archive.example"] == {
        "subscriber": 1, "non_content": 1000, "content": 4024}
    assert sum(f["size"] for f in packaged["files"] if "/files/" in f["path"]) == 24 * MB
    assert manifest(small)["record_counts"]["small@archive.example"] == {
        "subscriber": 1, "non_content": 125, "content": 503}
    # Measured: about 4.2 MB for the large account and 4.0 MB for the small one, on
    # both engines. Holding the large account's files at once would take 24 MB or
    # more, and memory that grew with the account would come out near 8x the small
    # one's peak; the bounds leave room for allocator and driver differences.
    assert large_peak < 8 * MB, f"{large_peak / MB:.1f} MB"
    assert large_peak < 1.5 * small_peak, f"{large_peak / MB:.1f} MB against {small_peak / MB:.1f} MB"
