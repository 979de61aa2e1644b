"""A loopback Stripe for the credits tests and the benchmark: the three endpoints credits
uses, each request checked against Stripe's documented parameters.

Stripe's API reference (and the SDK's generated parameter types, which come from the same
OpenAPI document) define, for

- `POST /v1/customers/{customer}/balance_transactions`: `amount` (integer, required),
  `currency` (three-letter ISO code in lower case, required), `description` (≤ 350
  characters), `expand`, `metadata`;
- `POST /v1/refunds`: `amount`, `charge`, `currency`, `customer`, `expand`,
  `instructions_email`, `metadata`, `origin`, `payment_intent`, `reason`
  (`duplicate`, `fraudulent`, `requested_by_customer`), `refund_application_fee`,
  `reverse_transfer`; a refund names one charge or payment intent, and never more than what
  is left of it;
- `POST /v1/credit_notes`: `amount`, `credit_amount`, `effective_at`, `email_type`, `expand`,
  `invoice` (required), `lines`, `memo`, `metadata`, `out_of_band_amount`, `reason`
  (`duplicate`, `fraudulent`, `order_change`, `product_unsatisfactory`), `refund_amount`,
  `refunds`, `shipping_cost`; one of `amount`, `lines` or `shipping_cost`; on a paid invoice
  the refund, credit and out-of-band amounts add up to the credit note's amount;
- metadata: at most 50 keys, keys up to 40 characters, values up to 500;
- `Idempotency-Key` on POSTs, at most 255 characters: the first result is saved and
  replayed for the same key (`Idempotent-Replayed: true`), and the key sent again with other
  parameters is an `idempotency_error`; requests that fail validation are not saved.

Anything else is answered as Stripe answers it (400 `parameter_unknown`, 404
`resource_missing`, …) and also recorded in `problems`, which the tests assert is empty: our
requests must be right, not merely accepted. A rate limit (a token bucket: `rate_limit`
requests a second, at most one second's worth in a burst) answers 429 with `Retry-After`
(the time until the next request is allowed), as can a scripted list of 429s.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

API_KEY = "sk_test_heliograph_sink"
BALANCE_PARAMS = {"amount", "currency", "description", "expand", "metadata"}
REFUND_PARAMS = {
    "amount",
    "charge",
    "currency",
    "customer",
    "expand",
    "instructions_email",
    "metadata",
    "origin",
    "payment_intent",
    "reason",
    "refund_application_fee",
    "reverse_transfer",
}
REFUND_REASONS = {"duplicate", "fraudulent", "requested_by_customer"}
CREDIT_NOTE_PARAMS = {
    "amount",
    "credit_amount",
    "effective_at",
    "email_type",
    "expand",
    "invoice",
    "lines",
    "memo",
    "metadata",
    "out_of_band_amount",
    "reason",
    "refund_amount",
    "refunds",
    "shipping_cost",
}
CREDIT_NOTE_REASONS = {"duplicate", "fraudulent", "order_change", "product_unsatisfactory"}
CURRENCIES = {"usd", "eur", "gbp", "jpy", "chf", "cad", "aud", "sek", "nok", "dkk", "bhd"}
_BALANCE_PATH = re.compile(r"^/v1/customers/(?P<customer>[^/]+)/balance_transactions$")


class StripeError(Exception):
    def __init__(self, status: int, message: str, *, code: str = "", param: str = "") -> None:
        super().__init__(message)
        self.status, self.message, self.code, self.param = status, message, code, param

    def body(self) -> dict:
        error = {"type": "invalid_request_error", "message": self.message}
        if self.code:
            error["code"] = self.code
        if self.param:
            error["param"] = self.param
        return {"error": error}


@dataclass
class Seen:
    """One request as the sink saw it."""

    at: float
    method: str
    path: str
    key: str
    params: dict
    status: int
    replayed: bool = False


@dataclass
class _Saved:
    fingerprint: str
    status: int
    body: dict


@dataclass
class StripeSink:
    rate_limit: float | None = None  # requests per second (token bucket, 1 s of burst)
    record: bool = True  # keep every request in `seen` (off in the 40,000-request benchmark)
    customers: dict[str, dict] = field(default_factory=dict)
    charges: dict[str, dict] = field(default_factory=dict)
    invoices: dict[str, dict] = field(default_factory=dict)
    objects: dict[str, dict] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    scripted_429: list[float] = field(default_factory=list)  # Retry-After of the next 429s
    fail_with_500: int = 0  # answer the next N POSTs with a 500 (not saved: as if not run)
    down_for: set[str] = field(default_factory=set)  # 500 for these customers/charges/invoices
    on_request: Callable[[int], None] | None = None  # called with the count of applied POSTs

    def __post_init__(self) -> None:
        self._lock = threading.RLock()
        self._saved: dict[str, _Saved] = {}
        self._tokens = float(self.rate_limit or 0)
        self._filled_at = time.monotonic()
        self._ids = 0
        self.applied = 0
        self.rate_limited = 0
        sink = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                return None

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                status, payload, headers = sink.handle("POST", self.path, self.headers, body)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Request-Id", f"req_{sink._next_id()}")
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # --- Fixtures of the fake account -------------------------------------------------------

    def add_customer(self, customer_id: str, currency: str | None = None) -> None:
        self.customers[customer_id] = {"currency": currency, "balance": 0}

    def add_charge(self, charge_id: str, amount: int, currency: str) -> None:
        self.charges[charge_id] = {"amount": amount, "currency": currency, "refunded": 0}

    def add_invoice(self, invoice_id: str, total: int, currency: str, status: str = "paid") -> None:
        self.invoices[invoice_id] = {
            "total": total,
            "currency": currency,
            "status": status,
            "credited": 0,
        }

    # --- What the tests read ----------------------------------------------------------------

    def created(self, kind: str) -> list[dict]:
        return [o for o in self.objects.values() if o["object"] == kind]

    def balance_of(self, customer_id: str) -> int:
        return self.customers[customer_id]["balance"]

    # --- Serving ----------------------------------------------------------------------------

    def _next_id(self) -> str:
        with self._lock:
            self._ids += 1
            return f"{self._ids:010d}"

    def handle(self, method: str, path: str, headers, body: bytes) -> tuple[int, dict, dict]:
        key = headers.get("Idempotency-Key", "")
        params = _decode(body.decode()) if body else {}
        status, payload, extra, replayed = self._handle(method, path, headers, key, params)
        if self.record:
            with self._lock:
                self.seen.append(
                    Seen(time.monotonic(), method, path, key, params, status, replayed)
                )
        return status, payload, extra

    def _problem(self, error: StripeError) -> StripeError:
        """Stripe would refuse this: so do we, and the test fails on it."""
        with self._lock:
            self.problems.append(error.message)
        return error

    def _handle(self, method, path, headers, key, params) -> tuple[int, dict, dict, bool]:
        auth = headers.get("Authorization", "")
        if auth != f"Bearer {API_KEY}":
            err = self._problem(StripeError(401, "Invalid API Key provided"))
            return 401, err.body(), {}, False
        with self._lock:
            now = time.monotonic()
            if self.scripted_429:
                wait = self.scripted_429.pop(0)
                self.rate_limited += 1
                return 429, _rate_limit_body(), {"Retry-After": f"{wait:g}"}, False
            if self.rate_limit:
                rate = self.rate_limit
                self._tokens = min(rate, self._tokens + (now - self._filled_at) * rate)
                self._filled_at = now
                if self._tokens < 1:
                    self.rate_limited += 1
                    wait = max(0.01, (1 - self._tokens) / rate)
                    return 429, _rate_limit_body(), {"Retry-After": f"{wait:.3f}"}, False
                self._tokens -= 1
        if method != "POST":
            err = self._problem(StripeError(404, f"Unrecognized request URL (GET: {path})"))
            return 404, err.body(), {}, False
        if headers.get("Content-Type", "").split(";")[0] != "application/x-www-form-urlencoded":
            err = self._problem(StripeError(400, "Bodies must be form-encoded"))
            return 400, err.body(), {}, False
        if not headers.get("Stripe-Version"):
            self._problem(StripeError(400, "no Stripe-Version header"))
        if not key or len(key) > 255:
            err = self._problem(
                StripeError(400, f"Idempotency-Key missing or longer than 255 ({len(key)})")
            )
            return 400, err.body(), {}, False
        fingerprint = hashlib.sha256(
            json.dumps([path, params], sort_keys=True).encode()
        ).hexdigest()
        with self._lock:
            saved = self._saved.get(key)
            if saved is not None:
                if saved.fingerprint != fingerprint:
                    err = self._problem(
                        StripeError(
                            400,
                            f"Keys for idempotent requests can only be used with the same "
                            f"parameters they were first used with. Try using a key other than "
                            f"'{key}' if you meant to execute a different request.",
                            code="idempotency_key_in_use",
                        )
                    )
                    return 400, err.body(), {}, False
                return saved.status, saved.body, {"Idempotent-Replayed": "true"}, True
            targets = {path.split("/")[3] if path.count("/") > 3 else ""} | {
                v for v in params.values() if isinstance(v, str)
            }
            if self.fail_with_500 or targets & self.down_for:
                self.fail_with_500 = max(0, self.fail_with_500 - 1)
                return 500, {"error": {"type": "api_error", "message": "Try again"}}, {}, False
            try:
                status, obj = 200, self._execute(path, params)
            except StripeError as error:
                return error.status, error.body(), {}, False
            self._saved[key] = _Saved(fingerprint, status, obj)
            self.objects[obj["id"]] = obj
            self.applied += 1
            count = self.applied
        if self.on_request is not None:
            self.on_request(count)
        return status, obj, {}, False

    def _execute(self, path: str, params: dict) -> dict:
        match = _BALANCE_PATH.match(path)
        if match:
            return self._balance_transaction(match["customer"], params)
        if path == "/v1/refunds":
            return self._refund(params)
        if path == "/v1/credit_notes":
            return self._credit_note(params)
        raise self._problem(StripeError(404, f"Unrecognized request URL (POST: {path})"))

    def _check_params(self, params: dict, allowed: set[str], required: set[str]) -> None:
        for name in params:
            if name not in allowed:
                raise self._problem(
                    StripeError(
                        400, f"Received unknown parameter: {name}", code="parameter_unknown"
                    )
                )
        for name in required:
            if name not in params:
                raise self._problem(
                    StripeError(400, f"Missing required param: {name}.", code="parameter_missing")
                )
        metadata = params.get("metadata", {})
        if metadata != "" and (
            not isinstance(metadata, dict)
            or len(metadata) > 50
            or any(len(k) > 40 or len(v) > 500 for k, v in metadata.items())
        ):
            raise self._problem(StripeError(400, "Invalid metadata", param="metadata"))

    def _integer(self, params: dict, name: str, *, positive: bool = False) -> int:
        raw = params.get(name)
        if not isinstance(raw, str) or not re.fullmatch(r"-?\d+", raw):
            raise self._problem(StripeError(400, f"Invalid integer: {raw}", param=name))
        value = int(raw)
        if positive and value <= 0:
            raise self._problem(StripeError(400, f"{name} must be a positive integer", param=name))
        return value

    def _currency(self, params: dict) -> str:
        currency = params.get("currency", "")
        if currency != currency.lower() or currency not in CURRENCIES:
            raise self._problem(StripeError(400, f"Invalid currency: {currency}", param="currency"))
        return currency

    def _balance_transaction(self, customer_id: str, params: dict) -> dict:
        self._check_params(params, BALANCE_PARAMS, {"amount", "currency"})
        amount = self._integer(params, "amount")
        if amount == 0:
            raise self._problem(StripeError(400, "amount must not be 0", param="amount"))
        currency = self._currency(params)
        if len(params.get("description", "")) > 350:
            raise self._problem(StripeError(400, "description too long", param="description"))
        customer = self.customers.get(customer_id)
        if customer is None:
            raise StripeError(
                404, f"No such customer: '{customer_id}'", code="resource_missing", param="id"
            )
        if customer["currency"] and customer["currency"] != currency:
            raise self._problem(
                StripeError(400, f"the customer's currency is {customer['currency']}")
            )
        customer["currency"] = currency
        customer["balance"] += amount
        return {
            "id": f"cbtxn_{self._next_id()}",
            "object": "customer_balance_transaction",
            "amount": amount,
            "currency": currency,
            "customer": customer_id,
            "description": params.get("description"),
            "ending_balance": customer["balance"],
            "metadata": params.get("metadata") or {},
            "type": "adjustment",
            "created": int(time.time()),
            "livemode": False,
        }

    def _refund(self, params: dict) -> dict:
        self._check_params(params, REFUND_PARAMS, set())
        source = [name for name in ("charge", "payment_intent") if name in params]
        if len(source) != 1:
            raise self._problem(StripeError(400, "name one charge or one payment_intent"))
        charge_id = params[source[0]]
        if params.get("reason", "requested_by_customer") not in REFUND_REASONS:
            raise self._problem(StripeError(400, "Invalid reason", param="reason"))
        charge = self.charges.get(charge_id)
        if charge is None:
            raise StripeError(404, f"No such charge: '{charge_id}'", code="resource_missing")
        amount = self._integer(params, "amount", positive=True)
        if amount > charge["amount"] - charge["refunded"]:
            raise self._problem(
                StripeError(400, f"Refund amount ({amount}) is greater than unrefunded amount")
            )
        charge["refunded"] += amount
        return {
            "id": f"re_{self._next_id()}",
            "object": "refund",
            "amount": amount,
            source[0]: charge_id,
            "currency": charge["currency"],
            "metadata": params.get("metadata") or {},
            "reason": params.get("reason"),
            "status": "succeeded",
            "created": int(time.time()),
        }

    def _credit_note(self, params: dict) -> dict:
        self._check_params(params, CREDIT_NOTE_PARAMS, {"invoice"})
        if not any(name in params for name in ("amount", "lines", "shipping_cost")):
            raise self._problem(StripeError(400, "One of amount, lines or shipping_cost"))
        if params.get("reason", "order_change") not in CREDIT_NOTE_REASONS:
            raise self._problem(StripeError(400, "Invalid reason", param="reason"))
        invoice = self.invoices.get(params["invoice"])
        if invoice is None:
            raise StripeError(
                404, f"No such invoice: '{params['invoice']}'", code="resource_missing"
            )
        amount = self._integer(params, "amount", positive=True)
        parts = sum(
            self._integer(params, name)
            for name in ("refund_amount", "credit_amount", "out_of_band_amount")
            if name in params
        )
        if invoice["status"] == "paid" and parts != amount:
            raise self._problem(
                StripeError(400, "refund, credit and out-of-band amounts must equal the amount")
            )
        if amount > invoice["total"] - invoice["credited"]:
            raise self._problem(StripeError(400, "amount is more than the invoice has left"))
        invoice["credited"] += amount
        return {
            "id": f"cn_{self._next_id()}",
            "object": "credit_note",
            "amount": amount,
            "invoice": params["invoice"],
            "currency": invoice["currency"],
            "refund_amount": params.get("refund_amount"),
            "memo": params.get("memo"),
            "metadata": params.get("metadata") or {},
            "reason": params.get("reason"),
            "status": "issued",
            "created": int(time.time()),
        }


def _rate_limit_body() -> dict:
    return {
        "error": {
            "type": "invalid_request_error",
            "code": "rate_limit",
            "message": "Too many requests hit the API too quickly.",
        }
    }


def _decode(text: str) -> dict:
    """Stripe's form encoding: `metadata[key]=value`, `expand[0]=x` → nested dicts."""
    result: dict = {}
    for name, value in parse_qsl(text, keep_blank_values=True):
        parts = re.findall(r"[^\[\]]+", name)
        target = result
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        target[parts[-1]] = value
    return result
