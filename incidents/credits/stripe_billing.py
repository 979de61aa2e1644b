"""Stripe, through the official SDK (`stripe`): the only module of credits that talks to it.

Three operations, each sent with its own `Idempotency-Key` (one per report, account and
kind: see `services.credit_apply_*`), so a retried or resumed run is answered with the first
result instead of applying twice:

- an account's credit: a customer balance transaction (`POST /v1/customers/{id}/
  balance_transactions`, a negative amount), which Stripe takes off the next invoice;
- an add-on refund against its charge (`POST /v1/refunds`, `charge` or `payment_intent`);
- or, when only the add-on's invoice is known, a credit note refunding it
  (`POST /v1/credit_notes`, `amount` = `refund_amount`, as a paid invoice requires).

Pacing: a token bucket at `HELIOGRAPH_STRIPE_RATE_LIMIT` requests a second shared by every
thread of a run; a 429 pauses the whole bucket for its `Retry-After` (Stripe's SDK retries
network errors, 409 and 5xx by itself, with the same key, but not 429s). The API base is a
setting: tests and the benchmark point it at a loopback sink.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

import stripe
from django.conf import settings

# Currencies Stripe counts in whole units, and those it counts in thousandths
# (docs.stripe.com/currencies): amounts are sent in the currency's smallest unit.
ZERO_DECIMAL = frozenset("BIF CLP DJF GNF JPY KMF KRW MGA PYG RWF UGX VND VUV XAF XOF XPF".split())
THREE_DECIMAL = frozenset("BHD JOD KWD OMR TND".split())
# The longest wait a 429's Retry-After may ask for, and how many 429s in a row one operation
# takes before it is left for the next run.
MAX_RETRY_AFTER = 60.0
MAX_RATE_LIMITED = 8
BALANCE_TRANSACTION = "balance_transaction"
REFUND = "refund"
CREDIT_NOTE = "credit_note"


def stripe_amount(cents: int, currency: str) -> int:
    """Cents → the currency's smallest unit as Stripe counts it (whole yen, fils, cents).
    Zero-decimal currencies are rounded half up to a whole unit."""
    if currency in ZERO_DECIMAL:
        return int((Decimal(cents) / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    if currency in THREE_DECIMAL:
        return cents * 10
    return cents


@dataclass(frozen=True)
class Operation:
    """One request: what, against which object, for how much, with which key."""

    kind: str  # BALANCE_TRANSACTION, REFUND or CREDIT_NOTE
    target: str  # cus_…, ch_…/py_…/pi_…, in_…
    amount: int  # in the currency's smallest unit, positive
    currency: str  # ISO 4217, upper case
    idempotency_key: str
    description: str = ""
    metadata: dict[str, str] = field(default_factory=dict)

    def params(self) -> dict:
        """The documented parameters of the request (form-encoded by the SDK)."""
        metadata = {k: v[:500] for k, v in self.metadata.items()}
        if self.kind == BALANCE_TRANSACTION:
            params = {"amount": -self.amount, "currency": self.currency.lower()}
            if self.description:
                params["description"] = self.description[:350]
        elif self.kind == REFUND:
            source = "payment_intent" if self.target.startswith("pi_") else "charge"
            params = {source: self.target, "amount": self.amount}
            params["reason"] = "requested_by_customer"
        elif self.kind == CREDIT_NOTE:
            params = {
                "invoice": self.target,
                "amount": self.amount,
                "refund_amount": self.amount,
                "reason": "order_change",
            }
            if self.description:
                params["memo"] = self.description[:500]
        else:
            raise ValueError(f"unknown Stripe operation {self.kind}")
        if metadata:
            params["metadata"] = metadata
        return params


@dataclass(frozen=True)
class Outcome:
    """What Stripe answered: the object's id, or an error that is worth retrying later
    (`permanent=False`: network, 5xx, rate limits) or not (a refused request)."""

    object_id: str = ""
    error: str = ""
    permanent: bool = False

    @property
    def ok(self) -> bool:
        return bool(self.object_id)


class RateLimiter:
    """A token bucket shared by threads: at most `rate` acquisitions a second, evenly
    spaced; `pause` holds everyone back (a 429's Retry-After)."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self._next = time.monotonic()
        self._lock = threading.Lock()

    def acquire(self) -> None:
        with self._lock:
            now = time.monotonic()
            at = max(now, self._next)
            self._next = at + self.interval
        if at > now:
            time.sleep(at - now)

    def pause(self, seconds: float) -> None:
        with self._lock:
            self._next = max(self._next, time.monotonic() + seconds)


def retry_after(error: stripe.StripeError) -> float:
    """The wait a 429 asks for (`Retry-After` in seconds), 1 s if it names none."""
    headers = error.headers or {}
    value = None
    for name, item in headers.items():
        if name.lower() == "retry-after":
            value = item
    try:
        seconds = float(value) if value is not None else 1.0
    except ValueError:
        seconds = 1.0
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


class StripeGateway:
    """A configured client of the official SDK and the pacing of one run."""

    def __init__(
        self,
        *,
        api_key: str | None = None,
        api_base: str | None = None,
        rate: float | None = None,
    ) -> None:
        key = settings.HELIOGRAPH_STRIPE_API_KEY if api_key is None else api_key
        if not key:
            raise ValueError("no Stripe key: set HELIOGRAPH_STRIPE_API_KEY (or use a dry run)")
        self.client = stripe.StripeClient(
            key,
            base_addresses={"api": api_base or settings.HELIOGRAPH_STRIPE_API_BASE},
            max_network_retries=2,
            http_client=stripe.RequestsClient(timeout=30),
        )
        self.limiter = RateLimiter(settings.HELIOGRAPH_STRIPE_RATE_LIMIT if rate is None else rate)
        self.rate_limited = 0  # 429s met, for the run's summary

    def send(self, operation: Operation) -> Outcome:
        """Send one operation (thread-safe), waiting out 429s; never raises for Stripe's
        answers."""
        options = {"idempotency_key": operation.idempotency_key}
        params = operation.params()
        for _ in range(MAX_RATE_LIMITED):
            self.limiter.acquire()
            try:
                if operation.kind == BALANCE_TRANSACTION:
                    result = self.client.v1.customers.balance_transactions.create(
                        operation.target, params, options
                    )
                elif operation.kind == REFUND:
                    result = self.client.v1.refunds.create(params, options)
                else:
                    result = self.client.v1.credit_notes.create(params, options)
            except stripe.RateLimitError as error:
                self.rate_limited += 1
                self.limiter.pause(retry_after(error))
                continue
            except stripe.APIConnectionError as error:
                return Outcome(error=f"Stripe unreachable: {error.user_message or error}")
            except stripe.StripeError as error:
                status = error.http_status or 0
                message = error.user_message or str(error)
                transient = status >= 500 or status == 409
                return Outcome(error=f"Stripe {status}: {message}"[:2000], permanent=not transient)
            return Outcome(object_id=result.id)
        return Outcome(error=f"Stripe answered 429 {MAX_RATE_LIMITED} times in a row")
