"""CSV import of accounts and spend: validate the whole file first, then write it in one go.

Both importers read the file twice, streaming (memory does not grow with the file):

1. **Validate.** Every line is parsed and checked; every bad line is collected with its line
   number and reason. If there is any, `ImportRejected` is raised and nothing is written.
2. **Write.** Inside one transaction: accounts are upserted by `account_id`; spend rows are
   streamed into a temporary staging table (PostgreSQL `COPY`, SQLite batched inserts), then
   moved into `SpendRecord` with one `INSERT … SELECT … ON CONFLICT DO NOTHING` keyed by
   (row hash, occurrence), so a re-import, or an export overlapping an earlier one, adds
   nothing twice while two genuinely identical charges in one file are both kept.

Progress is reported through a callback every `PROGRESS_EVERY` lines.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import IO

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import connection, transaction

from incidents.credits.currencies import is_currency
from incidents.credits.models import Account, SpendKind, SpendRecord
from statuspage.batching import chunks
from statuspage.services import Actor, audit_record

PROGRESS_EVERY = 100_000
BATCH = 5_000
ANALYZE_AFTER = 50_000
# At most this many bad lines are kept with their reasons (the count of all is always exact).
MAX_LISTED_ERRORS = 10_000
MAX_AMOUNT_MICROS = 9_000_000_000_000_000_000 // 1000  # headroom for sums of many rows

ACCOUNT_COLUMNS = [
    "account_id",
    "name",
    "plan",
    "paying",
    "currency",
    "stripe_customer_id",
    "billing_email",
]
# Optional columns that, when a file leaves them out, keep what the accounts already have.
ACCOUNT_OPTIONAL_KEPT = ("stripe_customer_id", "billing_email")
ACCOUNT_REQUIRED = {"account_id", "name", "paying", "currency"}
SPEND_COLUMNS = [
    "account_id",
    "amount",
    "currency",
    "occurred_at",
    "period_start",
    "period_end",
    "region",
    "kind",
    "charge_id",
    "invoice_id",
]
SPEND_REQUIRED = {"account_id", "amount", "currency"}
_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f", ""}
_KIND_RE = re.compile(r"^[a-z0-9_]{1,32}$")
# Stripe object ids: a prefix, an underscore, letters and digits.
_STRIPE_ID = re.compile(r"^[a-z]{2,5}_[A-Za-z0-9]{1,240}$")
_CUSTOMER_PREFIXES = ("cus_",)
_CHARGE_PREFIXES = ("ch_", "py_", "pi_")
_INVOICE_PREFIXES = ("in_",)


def stripe_id_problem(value: str, prefixes: tuple[str, ...], column: str) -> str | None:
    """Why `value` is not a Stripe id with one of `prefixes` (None when it is, or is empty)."""
    if not value:
        return None
    if not _STRIPE_ID.match(value) or not value.startswith(prefixes):
        return f"{column} '{value}' is not a Stripe id ({' or '.join(p + '…' for p in prefixes)})"
    return None


Progress = Callable[[str], None]


class ImportRejected(ValidationError):
    """The file was refused whole. `line_errors` lists (line number, reason), line 1 = header."""

    def __init__(self, line_errors: list[tuple[int, str]], bad_lines: int | None = None) -> None:
        self.line_errors = line_errors
        self.bad_lines = bad_lines if bad_lines is not None else len(line_errors)
        shown = [f"line {n}: {reason}" for n, reason in line_errors]
        if self.bad_lines > len(line_errors):
            shown.append(f"… and {self.bad_lines - len(line_errors)} more bad lines")
        super().__init__({"file": shown})

    def summary(self) -> str:
        return f"file rejected, nothing imported: {self.bad_lines} bad line(s)"


@dataclass
class ImportResult:
    lines: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    extra: dict = field(default_factory=dict)


class _Errors:
    def __init__(self) -> None:
        self.listed: list[tuple[int, str]] = []
        self.count = 0
        self._last_line = -1

    def add(self, line: int, reason: str) -> None:
        reason = _printable(reason)  # it may quote the file: shown in a page, a terminal, JSON
        if line != self._last_line:
            self.count += 1
            self._last_line = line
        if len(self.listed) < MAX_LISTED_ERRORS:
            self.listed.append((line, reason))

    def raise_if_any(self) -> None:
        if self.count:
            raise ImportRejected(self.listed, self.count)


def _noop(message: str) -> None:
    return None


# --- Parsing --------------------------------------------------------------------------------


def _printable(text: str) -> str:
    """Text safe to show anywhere: bytes that were not UTF-8 (kept as surrogates), other
    unpaired surrogates and NUL written as escapes (`\\xff`, `\\ud800`, `\\x00`)."""
    return _UNPRINTABLE.sub(_escape, text)


_UNPRINTABLE = re.compile("[\x00\ud800-\udfff]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8 (surrogateescape)
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _utf16(first_line: str) -> bool:
    """Whether the first line of a file read as UTF-8 is really UTF-16 (as Excel's "Unicode
    text" saves it): a UTF-16 byte order mark, or every other character a NUL."""
    if first_line.startswith(("\udcff\udcfe", "\udcfe\udcff")):
        return True
    return len(first_line) >= 4 and first_line.count("\x00") * 3 >= len(first_line)


def parse_amount_micros(text: str) -> int:
    """'12.34' → 12_340_000. Raises ValueError with the reason."""
    raw = (text or "").strip()
    if not raw:
        raise ValueError("amount is empty")
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise ValueError(f"amount '{raw}' is not a decimal number (use e.g. 12.34)") from None
    if not value.is_finite():
        raise ValueError(f"amount '{raw}' is not a finite number")
    if value.adjusted() > 18:  # 1e999999 would overflow the scaling below
        raise ValueError(f"amount '{raw}' is too large")
    micros = value.scaleb(6)
    if micros != micros.to_integral_value():
        raise ValueError(f"amount '{raw}' has more than 6 decimal places")
    micros_int = int(micros)
    if abs(micros_int) > MAX_AMOUNT_MICROS:
        raise ValueError(f"amount '{raw}' is too large")
    return micros_int


def parse_time(text: str, column: str = "") -> datetime:
    """ISO 8601 (`2026-06-21T00:00Z`, `2026-06-21 00:00`) → aware UTC datetime; a time
    without an offset is taken as UTC. The one parser of times for credits: CSV columns,
    the policy form, the credit_report command. Raises ValueError naming `column`."""
    raw = (text or "").strip()
    named = f"{column} '{raw}'" if column else f"'{raw}'"
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:  # not a time, or no such day (2027-02-30)
        raise ValueError(f"{named} is not an ISO 8601 time (e.g. 2026-06-21T00:00Z)") from None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:  # year 1 or 9999 moved across the date line
        raise ValueError(f"{named} is out of range") from None


def parse_bool(text: str, column: str) -> bool:
    value = (text or "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"{column} '{text}' is not true/false")


def _open_text(source: str | IO) -> Iterator[IO[str]]:
    """Yield a text stream for a path, a text stream or a binary stream (an upload).

    Bytes that are not UTF-8 are kept (as surrogates) so that `_rows` can name their line.
    """
    if isinstance(source, str):
        with open(source, newline="", encoding="utf-8-sig", errors="surrogateescape") as handle:
            yield handle
        return
    if hasattr(source, "seek"):
        source.seek(0)
    if isinstance(source, io.TextIOBase):
        yield source
        return
    wrapper = io.TextIOWrapper(source, encoding="utf-8-sig", newline="", errors="surrogateescape")
    try:
        yield wrapper
    finally:
        wrapper.detach()


def _rows(
    source: str | IO, columns: list[str], required: set[str], errors: _Errors
) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield (line number, row) of a CSV; header problems are errors on line 1."""
    for handle in _open_text(source):
        reader = csv.reader(handle)
        try:
            header = next(reader)
        except StopIteration:
            errors.add(1, "the file is empty (expected a header line)")
            return
        except (csv.Error, UnicodeDecodeError) as exc:
            errors.add(1, f"unreadable header: {exc}")
            return
        first_line = ",".join(header)
        if _utf16(first_line):
            errors.add(1, "the file is UTF-16: save it as UTF-8 (CSV UTF-8 in Excel)")
            return
        if "\x00" in first_line:
            errors.add(1, "contains a NUL character (\\x00): remove it")
            return
        header = [name.strip().lower() for name in header]
        if header:
            header[0] = header[0].removeprefix("\ufeff")  # a BOM in text already decoded
        if not any(header):
            errors.add(1, "the file is empty (expected a header line)")
            return
        unknown = [name for name in header if name not in columns]
        missing = sorted(required - set(header))
        if unknown:
            errors.add(1, f"unknown column(s) {', '.join(unknown)}; expected {','.join(columns)}")
        if missing:
            errors.add(1, f"missing column(s) {', '.join(missing)}")
        if len(set(header)) != len(header):
            errors.add(1, "a column is named twice")
        if unknown or missing or len(set(header)) != len(header):
            return
        width = len(header)
        line = 1
        while True:
            try:
                values = next(reader)
            except StopIteration:
                return
            except (csv.Error, UnicodeDecodeError) as exc:
                errors.add(reader.line_num or line + 1, f"unreadable line: {exc}")
                return
            line = reader.line_num
            if not values or (len(values) == 1 and not values[0].strip()):
                continue
            if len(values) != width:
                errors.add(line, f"expected {width} fields, found {len(values)}")
                continue
            text = "".join(values)
            if "\x00" in text:
                errors.add(line, "contains a NUL character (\\x00): remove it")
                continue
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:  # bytes that are not UTF-8 (kept as surrogates)
                errors.add(line, "not UTF-8 text (save the file as UTF-8)")
                continue
            yield line, dict(zip(header, values, strict=True))


# --- Accounts -------------------------------------------------------------------------------


@dataclass
class _AccountRow:
    external_id: str
    name: str
    plan: str
    paying: bool
    currency: str
    stripe_customer_id: str | None  # None: the file has no such column (kept as it is)
    billing_email: str | None


def _parse_account(row: dict[str, str]) -> tuple[_AccountRow | None, list[str]]:
    reasons = []
    external_id = row["account_id"].strip()
    if not external_id:
        reasons.append("account_id is empty")
    elif len(external_id) > 64:
        reasons.append("account_id is longer than 64 characters")
    name = row["name"].strip()
    if not name:
        reasons.append("name is empty")
    elif len(name) > 255:
        reasons.append("name is longer than 255 characters")
    plan = row.get("plan", "").strip()
    if len(plan) > 64:
        reasons.append("plan is longer than 64 characters")
    paying = False
    try:
        paying = parse_bool(row["paying"], "paying")
    except ValueError as exc:
        reasons.append(str(exc))
    currency = row["currency"].strip().upper()
    if not is_currency(currency):
        reasons.append(f"currency '{row['currency']}' is not a known ISO 4217 code")
    customer = row["stripe_customer_id"].strip() if "stripe_customer_id" in row else None
    problem = stripe_id_problem(customer or "", _CUSTOMER_PREFIXES, "stripe_customer_id")
    if problem:
        reasons.append(problem)
    email = row["billing_email"].strip() if "billing_email" in row else None
    if email:
        try:
            validate_email(email)
        except ValidationError:
            reasons.append(f"billing_email '{email}' is not an email address")
    if reasons:
        return None, reasons
    return _AccountRow(external_id, name, plan, paying, currency, customer, email), []


def accounts_import(
    *, source: str | IO, actor: Actor, progress: Progress = _noop, filename: str = ""
) -> ImportResult:
    """Create or update accounts from `account_id,name,plan,paying,currency` (idempotent)."""
    existing: dict[str, tuple[int, str, str, str, bool, str, str]] = {
        ext: (pk, currency, name, plan, paying, customer, email)
        for pk, ext, currency, name, plan, paying, customer, email in Account.objects.values_list(
            "pk",
            "external_id",
            "currency",
            "name",
            "plan",
            "paying",
            "stripe_customer_id",
            "billing_email",
        ).iterator(chunk_size=10_000)
    }
    errors = _Errors()
    seen: dict[str, int] = {}
    currency_changes: dict[str, int] = {}
    result = ImportResult()
    for line, row in _rows(source, ACCOUNT_COLUMNS, ACCOUNT_REQUIRED, errors):
        result.lines += 1
        parsed, reasons = _parse_account(row)
        for reason in reasons:
            errors.add(line, reason)
        if parsed is None:
            continue
        if parsed.external_id in seen:
            errors.add(
                line,
                f"account_id {parsed.external_id} repeated (first on line {seen[parsed.external_id]})",
            )
            continue
        seen[parsed.external_id] = line
        old = existing.get(parsed.external_id)
        if old and old[1] != parsed.currency:
            currency_changes[parsed.external_id] = line
        if result.lines % PROGRESS_EVERY == 0:
            progress(f"checked {result.lines} lines")
    # An account's currency cannot change once it has spend (its spend is in the old currency).
    ids = list(currency_changes)
    for chunk in chunks(ids, BATCH):
        with_spend = SpendRecord.objects.filter(account__external_id__in=chunk).values_list(
            "account__external_id", flat=True
        )
        for ext in set(with_spend):
            errors.add(
                currency_changes[ext],
                f"currency of account {ext} cannot change from {existing[ext][1]}: it has spend",
            )
    errors.raise_if_any()
    progress(f"checked {result.lines} lines: no errors; writing")

    with transaction.atomic():
        batch: list[Account] = []
        written = 0
        kept: tuple[str, ...] = ()
        for _line, row in _rows(source, ACCOUNT_COLUMNS, ACCOUNT_REQUIRED, errors):
            parsed, reasons = _parse_account(row)
            if parsed is None:  # the file changed between the passes
                raise ImportRejected([(_line, reason) for reason in reasons])
            # A file without the optional columns leaves them as they are.
            kept = tuple(column for column in ACCOUNT_OPTIONAL_KEPT if column not in row)
            old = existing.get(parsed.external_id)
            customer = parsed.stripe_customer_id
            email = parsed.billing_email
            if old is not None:
                customer = old[5] if customer is None else customer
                email = old[6] if email is None else email
            new = (parsed.currency, parsed.name, parsed.plan, parsed.paying, customer, email)
            if old is None:
                result.created += 1
            elif old[1:] == new:
                result.unchanged += 1
                continue
            else:
                result.updated += 1
            batch.append(
                Account(
                    external_id=parsed.external_id,
                    name=parsed.name,
                    plan=parsed.plan,
                    paying=parsed.paying,
                    currency=parsed.currency,
                    stripe_customer_id=customer or "",
                    billing_email=email or "",
                )
            )
            if len(batch) >= BATCH:
                _upsert_accounts(batch, kept)
                written += len(batch)
                batch = []
                if written % PROGRESS_EVERY < BATCH:
                    progress(f"wrote {written} accounts")
        _upsert_accounts(batch, kept)
        errors.raise_if_any()
        audit_record(
            actor=actor,
            action="credits.accounts_import",
            summary=(
                f"{filename or 'accounts CSV'}: {result.created} created, {result.updated} "
                f"updated, {result.unchanged} unchanged"
            ),
            data={"lines": result.lines, "created": result.created, "updated": result.updated},
        )
    progress(
        f"done: {result.created} created, {result.updated} updated, {result.unchanged} unchanged"
    )
    return result


def _upsert_accounts(batch: list[Account], kept: tuple[str, ...] = ()) -> None:
    fields = ["name", "plan", "paying", "currency", "stripe_customer_id", "billing_email"]
    if batch:
        Account.objects.bulk_create(
            batch,
            update_conflicts=True,
            unique_fields=["external_id"],
            update_fields=[f for f in fields if f not in kept] + ["updated_at"],
        )


# --- Spend ----------------------------------------------------------------------------------


def _iso(value: datetime | None) -> str:
    return value.isoformat() if value else ""


def _parse_spend(
    row: dict[str, str], accounts: dict[str, tuple[int, str]]
) -> tuple[tuple | None, list[str]]:
    """Return (staging row, []) or (None, reasons)."""
    reasons: list[str] = []
    external_id = row["account_id"].strip()
    account = accounts.get(external_id)
    if not external_id:
        reasons.append("account_id is empty")
    elif account is None:
        reasons.append(f"unknown account '{external_id}' (import accounts first)")
    micros = 0
    try:
        micros = parse_amount_micros(row["amount"])
    except ValueError as exc:
        reasons.append(str(exc))
    currency = row["currency"].strip().upper()
    if not is_currency(currency):
        reasons.append(f"currency '{row['currency']}' is not a known ISO 4217 code")
    elif account is not None and account[1] != currency:
        reasons.append(f"currency {currency} is not the account's currency {account[1]}")
    occurred_raw = row.get("occurred_at", "").strip()
    start_raw = row.get("period_start", "").strip()
    end_raw = row.get("period_end", "").strip()
    occurred_at = period_start = period_end = None
    if occurred_raw and (start_raw or end_raw):
        reasons.append("give either occurred_at or period_start,period_end, not both")
    elif occurred_raw:
        try:
            occurred_at = parse_time(occurred_raw, "occurred_at")
        except ValueError as exc:
            reasons.append(str(exc))
    elif start_raw or end_raw:
        if not (start_raw and end_raw):
            reasons.append("a period needs both period_start and period_end")
        else:
            try:
                period_start = parse_time(start_raw, "period_start")
            except ValueError as exc:
                reasons.append(str(exc))
            try:
                period_end = parse_time(end_raw, "period_end")
            except ValueError as exc:
                reasons.append(str(exc))
            if period_start and period_end and period_end <= period_start:
                reasons.append(f"period_end {end_raw} is not after period_start {start_raw}")
    else:
        reasons.append("no time: give occurred_at, or period_start and period_end")
    region = row.get("region", "").strip()
    if len(region) > 64:
        reasons.append("region is longer than 64 characters")
    kind = row.get("kind", "").strip().lower() or SpendKind.USAGE
    if not _KIND_RE.match(kind):
        reasons.append(f"kind '{kind}' must be lower-case letters, digits or _ (≤ 32)")
    charge_id = row.get("charge_id", "").strip()
    invoice_id = row.get("invoice_id", "").strip()
    for problem in (
        stripe_id_problem(charge_id, _CHARGE_PREFIXES, "charge_id"),
        stripe_id_problem(invoice_id, _INVOICE_PREFIXES, "invoice_id"),
    ):
        if problem:
            reasons.append(problem)
    if reasons:
        return None, reasons
    canonical = "\x1f".join(
        (
            external_id,
            str(micros),
            currency,
            _iso(occurred_at),
            _iso(period_start),
            _iso(period_end),
            region,
            kind,
        )
    )
    row_hash = hashlib.blake2b(canonical.encode(), digest_size=16).hexdigest()
    return (
        account[0],
        micros,
        currency,
        occurred_at,
        period_start,
        period_end,
        region,
        kind,
        row_hash,
        charge_id,
        invoice_id,
    ), []


_STAGE = "credits_spend_stage"
_STAGE_COLUMNS = (
    "line, account_id, amount_micros, currency, occurred_at, period_start, period_end, "
    "region, kind, row_hash, charge_id, invoice_id"
)
_TARGET_COLUMNS = (
    "account_id, amount_micros, currency, occurred_at, period_start, period_end, region, "
    "kind, row_hash, charge_id, invoice_id, occurrence"
)


def spend_import(
    *, source: str | IO, actor: Actor, progress: Progress = _noop, filename: str = ""
) -> ImportResult:
    """Import spend rows; re-importing adds nothing twice; a bad file is refused whole."""
    accounts: dict[str, tuple[int, str]] = {
        ext: (pk, currency)
        for pk, ext, currency in Account.objects.values_list(
            "pk", "external_id", "currency"
        ).iterator(chunk_size=10_000)
    }
    errors = _Errors()
    result = ImportResult()
    for line, row in _rows(source, SPEND_COLUMNS, SPEND_REQUIRED, errors):
        result.lines += 1
        _parsed, reasons = _parse_spend(row, accounts)
        for reason in reasons:
            errors.add(line, reason)
        if result.lines % PROGRESS_EVERY == 0:
            progress(f"checked {result.lines} lines")
    errors.raise_if_any()
    progress(f"checked {result.lines} lines: no errors; writing")

    def staged() -> Iterator[tuple]:
        count = 0
        for line, row in _rows(source, SPEND_COLUMNS, SPEND_REQUIRED, errors):
            parsed, reasons = _parse_spend(row, accounts)
            if parsed is None:  # the file changed between the passes
                raise ImportRejected([(line, reason) for reason in reasons])
            count += 1
            if count % PROGRESS_EVERY == 0:
                progress(f"staged {count} lines")
            yield (line, *parsed)

    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Inside an outer transaction ON COMMIT DROP has not fired yet: drop it here too.
            cursor.execute(f"DROP TABLE IF EXISTS pg_temp.{_STAGE}")
            cursor.execute(
                f"CREATE TEMP TABLE {_STAGE} (line integer, account_id bigint, "
                "amount_micros bigint, currency text, occurred_at timestamptz, "
                "period_start timestamptz, period_end timestamptz, region text, kind text, "
                "row_hash uuid, charge_id text, invoice_id text) ON COMMIT DROP"
            )
            with cursor.cursor.copy(f"COPY {_STAGE} ({_STAGE_COLUMNS}) FROM STDIN") as copy:
                for values in staged():
                    copy.write_row(values)
            cursor.execute(f"ANALYZE {_STAGE}")
            insert = (
                f"INSERT INTO {SpendRecord._meta.db_table} ({_TARGET_COLUMNS}) "
                f"SELECT account_id, amount_micros, currency, occurred_at, period_start, "
                f"period_end, region, kind, row_hash, charge_id, invoice_id, "
                f"row_number() OVER (PARTITION BY row_hash ORDER BY line) FROM {_STAGE} "
                f"ON CONFLICT (row_hash, occurrence) DO NOTHING"
            )
        else:
            cursor.execute(f"DROP TABLE IF EXISTS temp.{_STAGE}")
            cursor.execute(
                f"CREATE TEMP TABLE {_STAGE} (line integer, account_id integer, "
                "amount_micros integer, currency text, occurred_at text, period_start text, "
                "period_end text, region text, kind text, row_hash text, charge_id text, "
                "invoice_id text)"
            )
            adapt = connection.ops.adapt_datetimefield_value
            sql = f"INSERT INTO {_STAGE} ({_STAGE_COLUMNS}) VALUES ({', '.join(['%s'] * 12)})"
            for batch in chunks(staged(), BATCH):
                cursor.executemany(
                    sql,
                    [(*v[:4], adapt(v[4]), adapt(v[5]), adapt(v[6]), *v[7:]) for v in batch],
                )
            insert = (
                f"INSERT OR IGNORE INTO {SpendRecord._meta.db_table} ({_TARGET_COLUMNS}) "
                f"SELECT account_id, amount_micros, currency, occurred_at, period_start, "
                f"period_end, region, kind, row_hash, charge_id, invoice_id, "
                f"row_number() OVER (PARTITION BY row_hash ORDER BY line) FROM {_STAGE}"
            )
        progress("inserting new rows")
        cursor.execute(insert)
        result.created = max(cursor.rowcount, 0)
        # Rows imported before with no Stripe ids get the ids a later export carries.
        cursor.execute(
            f"UPDATE {SpendRecord._meta.db_table} SET charge_id = s.charge_id, "
            f"invoice_id = s.invoice_id FROM (SELECT row_hash, charge_id, invoice_id, "
            f"row_number() OVER (PARTITION BY row_hash ORDER BY line) AS occurrence "
            f"FROM {_STAGE}) s "
            f"WHERE {SpendRecord._meta.db_table}.row_hash = s.row_hash "
            f"AND {SpendRecord._meta.db_table}.occurrence = s.occurrence "
            f"AND (s.charge_id <> '' OR s.invoice_id <> '') "
            f"AND ({SpendRecord._meta.db_table}.charge_id <> s.charge_id "
            f"OR {SpendRecord._meta.db_table}.invoice_id <> s.invoice_id)"
        )
        result.updated = max(cursor.rowcount, 0)
        result.unchanged = result.lines - result.created - result.updated
        schema = "pg_temp" if connection.vendor == "postgresql" else "temp"
        cursor.execute(f"DROP TABLE {schema}.{_STAGE}")
        if connection.vendor == "postgresql" and result.created >= ANALYZE_AFTER:
            # Fresh statistics, so the next report is planned for the data it will read.
            cursor.execute(f"ANALYZE {SpendRecord._meta.db_table}")
        audit_record(
            actor=actor,
            action="credits.spend_import",
            summary=(
                f"{filename or 'spend CSV'}: {result.created} new spend records, "
                f"{result.unchanged} already imported"
            ),
            data={"lines": result.lines, "created": result.created},
        )
    progress(f"done: {result.created} new, {result.unchanged} already imported")
    return result
