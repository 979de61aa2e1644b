"""Properties of the credits importers (hypothesis): whatever text or bytes a file holds —
random, or CSV built from tricky cells (NUL, bytes that are not UTF-8, UTF-16, amounts like
1e999999, impossible or overflowing times, quotes and newlines) — accounts_import and
spend_import either import it or raise ImportRejected whose every reason names a line and is
printable. Nothing else may escape: the console, the commands and the API show that
rejection, so anything else would be a 500.

Each example runs in a savepoint rolled back afterwards; bounded and deterministic."""

from __future__ import annotations

import io

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from incidents.credits import importers, services
from incidents.credits.importers import ImportRejected
from statuspage.services import Actor

pytestmark = pytest.mark.django_db

ACTOR = Actor.system("property-test")
PROPERTY = settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
CELLS = st.one_of(
    st.sampled_from(
        [
            "",
            "a1",
            "a2",
            "USD",
            "eur",
            "XXX",
            "true",
            "maybe",
            "12.34",
            "-0",
            "1e999999",
            "1E-999999",
            "NaN",
            "-Infinity",
            "0.0000001",
            "9" * 30,
            "2026-06-22T00:00Z",
            "2027-02-30T00:00Z",
            "0001-01-01T00:00+05:00",
            "9999-12-31T23:59:59-05:00",
            "2026-06-22T00:00+99:00",
            "usage",
            "Kind!",
            "x" * 70,
            "a\x00b",
            "\udcff\udcfe",
            "\ud800",
            '"quoted, with comma"',
            '"line\nbreak"',
            '"unclosed',
        ]
    ),
    st.text(alphabet=st.characters(codec=None, categories=None), max_size=12),
)
HEADERS = st.one_of(
    st.just(importers.ACCOUNT_COLUMNS),
    st.just(importers.SPEND_COLUMNS),
    st.just(["account_id", "amount", "currency", "occurred_at"]),
    st.lists(
        st.sampled_from([*importers.SPEND_COLUMNS, *importers.ACCOUNT_COLUMNS, "x"]), max_size=9
    ),
)


@st.composite
def csv_files(draw) -> bytes:
    header = draw(HEADERS)
    width = max(len(header), 1)
    rows = draw(
        st.lists(
            st.lists(CELLS, min_size=width - 1, max_size=width + 1),
            max_size=6,
        )
    )
    text = "\n".join(",".join(cells) for cells in [header, *rows]) + draw(
        st.sampled_from(["", "\n", "\r\n", "\n\n"])
    )
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "latin-1"]))
    return text.encode(encoding, "surrogatepass" if encoding.startswith("utf") else "replace")


FILES = st.one_of(csv_files(), st.binary(max_size=400))
TEXTS = st.one_of(
    csv_files().map(lambda b: b.decode("utf-8", "replace")),
    st.text(alphabet=st.characters(codec=None, categories=None), max_size=300),
)


@pytest.fixture
def accounts():
    services.accounts_import(
        source=io.StringIO(
            "account_id,name,plan,paying,currency\na1,Alpha,pro,true,USD\na2,Beta,,false,EUR\n"
        ),
        actor=ACTOR,
    )


def imports_or_rejects(importer, source) -> None:
    savepoint = transaction.savepoint()
    try:
        importer(source=source, actor=ACTOR, filename="property.csv")
    except ImportRejected as exc:
        assert exc.line_errors and exc.bad_lines >= 1
        for line, reason in exc.line_errors:
            assert line >= 1 and reason
            assert "\x00" not in reason
            reason.encode("utf-8")  # shown in a page, a terminal, JSON
    finally:
        transaction.savepoint_rollback(savepoint)


@PROPERTY
@given(data=FILES)
def test_any_file_is_imported_as_accounts_or_rejected(accounts, data):
    imports_or_rejects(services.accounts_import, io.BytesIO(data))


@PROPERTY
@given(data=FILES)
def test_any_file_is_imported_as_spend_or_rejected(accounts, data):
    imports_or_rejects(services.spend_import, io.BytesIO(data))


@PROPERTY
@given(text=TEXTS)
def test_any_text_is_imported_or_rejected_by_both_importers(accounts, text):
    """Text as the API hands it (a JSON string or a decoded body)."""
    imports_or_rejects(services.accounts_import, io.StringIO(text))
    imports_or_rejects(services.spend_import, io.StringIO(text))
