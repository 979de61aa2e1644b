"""ISO 4217 currency codes a credit policy, an account or a spend record may use.

A fixed list (active codes as of 2026) keeps typos such as "USS" or "EURO" out of billing
data; money is rounded to the cent whatever the currency (see docs/credits.md).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError

ISO_4217 = frozenset(
    """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP
    BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP
    GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR
    KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK
    MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR
    SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS
    UAH UGX USD UYU UZS VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG
    """.split()
)


def is_currency(code: str) -> bool:
    return code in ISO_4217


def validate_currency(code: str, field: str = "currency") -> str:
    """Return the code upper-cased, or raise ValidationError({field: …})."""
    value = (code or "").strip().upper()
    if value not in ISO_4217:
        raise ValidationError(
            {field: f"'{code}' is not a known ISO 4217 currency code (e.g. USD, EUR, GBP)"}
        )
    return value
