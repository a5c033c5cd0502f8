"""Seeded generator of synthetic 3-class financial-news sentiment sentences.

Every sentence is assembled from templates and invented entities written for
this project (no external dataset text). The task is learnable but not
keyword-separable: contrast clauses ("Despite weaker sales, operating profit
rose 8%"), negation ("did not fall"), hedges and neutral sentences that share
vocabulary with the polar classes, plus a controlled fraction of label noise.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from fractions import Fraction
from numbers import Real

import numpy as np
import pandas as pd

from scalingdown.data.generators.template_files import generator_data

LABELS: tuple[str, ...] = ("negative", "neutral", "positive")
DEFAULT_LABEL_MIX: dict[str, float] = {"negative": 0.25, "neutral": 0.45, "positive": 0.30}

_MAX_ATTEMPTS = 1000

# Row i: probabilities of the class a noisy row's text is written in, given its
# emitted label LABELS[i]. Polar labels are mostly confused with neutral text.
_NOISE_SOURCES = np.array(
    [
        [0.0, 0.7, 0.3],
        [0.5, 0.0, 0.5],
        [0.3, 0.7, 0.0],
    ]
)

# The sentence templates of each label and the words of the invented entities, from
# data/templates/financial_sentiment.json.
_DATA = generator_data("financial_sentiment")
_TEMPLATES: dict[str, list[str]] = _DATA["templates"]
_NAME_HEADS: list[str] = _DATA["words"]["name_heads"]
_NAME_TAILS: list[str] = _DATA["words"]["name_tails"]
_COMPANY_FORMS: list[str] = _DATA["words"]["company_forms"]
_BROKER_FORMS: list[str] = _DATA["words"]["broker_forms"]
_FIRST_NAMES: list[str] = _DATA["words"]["first_names"]
_SURNAME_HEADS: list[str] = _DATA["words"]["surname_heads"]
_SURNAME_TAILS: list[str] = _DATA["words"]["surname_tails"]
_TITLES: list[str] = _DATA["words"]["titles"]
_CITIES: list[str] = _DATA["words"]["cities"]
_NATIONALITIES: list[str] = _DATA["words"]["nationalities"]
_SECTORS: list[str] = _DATA["words"]["sectors"]
_PRODUCTS: list[str] = _DATA["words"]["products"]
_REGIONS: list[str] = _DATA["words"]["regions"]
_PLANTS: list[str] = _DATA["words"]["plants"]
_SITES: list[str] = _DATA["words"]["sites"]
_UNITS: list[str] = _DATA["words"]["units"]
_COSTS: list[str] = _DATA["words"]["costs"]
_METRICS: list[str] = _DATA["words"]["metrics"]
_PROFITS: list[str] = _DATA["words"]["profits"]
_DRIVERS: list[str] = _DATA["words"]["drivers"]
_UP: list[str] = _DATA["words"]["up"]
_DOWN: list[str] = _DATA["words"]["down"]
_UP_INF: list[str] = _DATA["words"]["up_inf"]
_DOWN_INF: list[str] = _DATA["words"]["down_inf"]
_UP_NOUN: list[str] = _DATA["words"]["up_noun"]
_DOWN_NOUN: list[str] = _DATA["words"]["down_noun"]
_UP_TR: list[str] = _DATA["words"]["up_tr"]
_UP_ADJ: list[str] = _DATA["words"]["up_adj"]
_DOWN_ADJ: list[str] = _DATA["words"]["down_adj"]
_COST_UP_ADJ: list[str] = _DATA["words"]["cost_up_adj"]
_COST_DOWN_ADJ: list[str] = _DATA["words"]["cost_down_adj"]
_ORDINALS: list[str] = _DATA["words"]["ordinals"]
_MONTHS: list[str] = _DATA["words"]["months"]
_WEEKDAYS: list[str] = _DATA["words"]["weekdays"]
_FUTURE_PERIODS: list[str] = _DATA["words"]["future_periods"]
_ATTRIBUTIONS: list[str] = _DATA["words"]["attributions"]
_FLAT: list[str] = _DATA["words"]["flat"]
_FLAT_FUTURE: list[str] = _DATA["words"]["flat_future"]
_REPORTS: list[str] = _DATA["words"]["reports"]
_RATINGS_UP: list[str] = _DATA["words"]["ratings_up"]
_RATINGS_DOWN: list[str] = _DATA["words"]["ratings_down"]
_RATINGS_KEEP: list[str] = _DATA["words"]["ratings_keep"]
_POS_EVENTS: list[str] = _DATA["words"]["pos_events"]
_NEG_EVENTS: list[str] = _DATA["words"]["neg_events"]
_POS_REASONS: list[str] = _DATA["words"]["pos_reasons"]
_NEG_REASONS: list[str] = _DATA["words"]["neg_reasons"]
_TAILWINDS: list[str] = _DATA["words"]["tailwinds"]
_HEADWINDS: list[str] = _DATA["words"]["headwinds"]
_DEAL_ACTIONS: list[str] = _DATA["words"]["deal_actions"]
_PCT_SUFFIXES: list[str] = _DATA["words"]["pct_suffixes"]
_CURRENCIES: list[str] = _DATA["words"]["currencies"]


class _Slots(dict[str, str]):
    """Lazily filled template slots; a slot used twice in a template keeps one value.

    `makers` add slots (or replace some) for another generator (see `template_slots`).
    """

    def __init__(self, rng: np.random.Generator, makers: Mapping[str, Callable[[_Slots], str]] | None = None) -> None:
        super().__init__()
        self.rng = rng
        self.makers = makers or {}

    def __missing__(self, key: str) -> str:
        value = (self.makers.get(key) or _SLOT_MAKERS[key])(self)
        self[key] = value
        return value


def template_slots(
    rng: np.random.Generator, makers: Mapping[str, Callable[[_Slots], str]] | None = None
) -> dict[str, str]:
    """Empty template slots that fill themselves from the invented entities of this module when a template
    (`str.format_map`) reads them; `makers` add slots. After formatting, it holds the value of every slot used."""
    return _Slots(rng, makers)


def _pick(rng: np.random.Generator, options: Sequence[str]) -> str:
    return options[int(rng.random() * len(options))]


def _uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return low + (high - low) * rng.random()


def _company(rng: np.random.Generator) -> str:
    stem = _pick(rng, _NAME_HEADS) + _pick(rng, _NAME_TAILS)
    return stem if rng.random() < 0.2 else f"{stem} {_pick(rng, _COMPANY_FORMS)}"


def _other_company(slots: _Slots) -> str:
    name = _company(slots.rng)
    while name == slots["co"]:
        name = _company(slots.rng)
    return name


def _possessive(name: str) -> str:
    return f"{name}'" if name.endswith("s") else f"{name}'s"


def _person(rng: np.random.Generator) -> str:
    return f"{_pick(rng, _FIRST_NAMES)} {_pick(rng, _SURNAME_HEADS)}{_pick(rng, _SURNAME_TAILS)}"


def _pct(rng: np.random.Generator) -> str:
    value = _uniform(rng, 0.5, 35.0)
    number = f"{value:.1f}" if rng.random() < 0.5 else f"{max(1, round(value))}"
    return number + _pick(rng, _PCT_SUFFIXES)


def _with_article(phrase: str) -> str:
    """Prefix 'a' or 'an' to a phrase that starts with a number (an 8%, an 11.5%, a 12%)."""
    number = re.match(r"\d+", phrase)
    assert number is not None, phrase  # the callers pass a percentage
    whole = int(number.group())
    return f"an {phrase}" if whole in (8, 11, 18) or 80 <= whole <= 89 else f"a {phrase}"


def _number(value: float) -> str:
    rounded = round(value, 1)
    return f"{rounded:.0f}" if rounded >= 100 else f"{rounded:.1f}"


def _amount(rng: np.random.Generator) -> tuple[float, str]:
    if rng.random() < 0.15:
        return _uniform(rng, 1.0, 12.0), "bn"
    return _uniform(rng, 2.0, 950.0), _pick(rng, ("mn", "mn", "mn", "million"))


def _money(slots: _Slots) -> str:
    value, unit = _amount(slots.rng)
    return f"{slots['currency']} {_number(value)} {unit}"


def _money_pair(slots: _Slots, rising: bool) -> str:
    base, unit = _amount(slots.rng)
    moved = base * (1.0 + _uniform(slots.rng, 0.12, 0.6))
    new, old = (moved, base) if rising else (base, moved)
    currency = slots["currency"]
    return f"to {currency} {_number(new)} {unit} from {currency} {_number(old)} {unit}"


def _margin_pair(rng: np.random.Generator, rising: bool) -> str:
    low = _uniform(rng, 0.5, 14.0)
    high = low + _uniform(rng, 0.3, 5.0)
    new, old = (high, low) if rising else (low, high)
    return f"to {new:.1f}% from {old:.1f}%"


def _dividend(rng: np.random.Generator, direction: int) -> str:
    currency = _pick(rng, ("EUR", "EUR", "SEK", "NOK"))
    old = round(_uniform(rng, 0.2, 2.0), 2)
    if direction == 0:
        same = _pick(rng, ("unchanged from the previous year", "the same as a year earlier"))
        return f"{currency} {old:.2f} per share, {same}"
    new = old * (1.0 + direction * _uniform(rng, 0.06, 0.5))
    word = "up" if direction > 0 else "down"
    return f"{currency} {new:.2f} per share, {word} from {currency} {old:.2f}"


def _period_name(rng: np.random.Generator) -> str:
    year = int(rng.integers(2014, 2026))
    forms = (
        f"the {_pick(rng, _ORDINALS)} quarter of {year}",
        f"the {_pick(rng, _ORDINALS)} quarter",
        f"Q{int(rng.integers(1, 5))} {year}",
        f"the {_pick(rng, ('first', 'second'))} half of {year}",
        f"January-{_pick(rng, _MONTHS[2:])} {year}",
        f"{year}",
        f"the financial year {year}",
        "the review period",
    )
    return _pick(rng, forms)


def _date(rng: np.random.Generator) -> str:
    return f"{int(rng.integers(1, 29))} {_pick(rng, _MONTHS)}"


def _broker(rng: np.random.Generator) -> str:
    return f"{_pick(rng, _NAME_HEADS)}{_pick(rng, _NAME_TAILS)} {_pick(rng, _BROKER_FORMS)}"


def _analysts(rng: np.random.Generator) -> str:
    return "Analysts" if rng.random() < 0.5 else f"Analysts at {_broker(rng)}"


def _choice(options: Sequence[str]) -> Callable[[_Slots], str]:
    return lambda slots: _pick(slots.rng, options)


_SLOT_MAKERS: dict[str, Callable[[_Slots], str]] = {
    "co": lambda s: _company(s.rng),
    "cos": lambda s: _possessive(s["co"]),
    "co2": _other_company,
    "broker": lambda s: _broker(s.rng),
    "person": lambda s: _person(s.rng),
    "analysts": lambda s: _analysts(s.rng),
    "analysts_said": _choice(("analysts say", "analysts said", "according to analysts", "one analyst said")),
    "pct": lambda s: _pct(s.rng),
    "a_pct": lambda s: _with_article(_pct(s.rng)),
    "money": _money,
    "money2": _money,
    "currency": _choice(_CURRENCIES),
    "up_pair": lambda s: _money_pair(s, rising=True),
    "down_pair": lambda s: _money_pair(s, rising=False),
    "margin_up": lambda s: _margin_pair(s.rng, rising=True),
    "margin_down": lambda s: _margin_pair(s.rng, rising=False),
    "div_up": lambda s: _dividend(s.rng, 1),
    "div_down": lambda s: _dividend(s.rng, -1),
    "div_same": lambda s: _dividend(s.rng, 0),
    "price": lambda s: f"EUR {_uniform(s.rng, 1.0, 90.0):.2f}",
    "jobs": lambda s: str(int(s.rng.integers(10, 601))),
    "staff": lambda s: f"{int(s.rng.integers(40, 25001)):,}",
    "site_staff": lambda s: f"{int(s.rng.integers(30, 2501)):,}",
    "countries": lambda s: str(int(s.rng.integers(2, 46))),
    "year": lambda s: str(int(s.rng.integers(2014, 2026))),
    "date": lambda s: _date(s.rng),
    "period_name": lambda s: _period_name(s.rng),
    "period": lambda s: f"in {s['period_name']}",
    "fperiod": _choice(_FUTURE_PERIODS),
    "weekday": _choice(_WEEKDAYS),
    "attr": _choice(_ATTRIBUTIONS),
    "metric": _choice(_METRICS),
    "profit": _choice(_PROFITS),
    "driver": _choice(_DRIVERS),
    "cost": _choice(_COSTS),
    "up": _choice(_UP),
    "down": _choice(_DOWN),
    "up_inf": _choice(_UP_INF),
    "up_n": _choice(_UP_NOUN),
    "down_n": _choice(_DOWN_NOUN),
    "down_inf": _choice(_DOWN_INF),
    "up_tr": _choice(_UP_TR),
    "upadj": _choice(_UP_ADJ),
    "downadj": _choice(_DOWN_ADJ),
    "cost_upadj": _choice(_COST_UP_ADJ),
    "cost_downadj": _choice(_COST_DOWN_ADJ),
    "city": _choice(_CITIES),
    "nationality": _choice(_NATIONALITIES),
    "sector": _choice(_SECTORS),
    "product": _choice(_PRODUCTS),
    "region": _choice(_REGIONS),
    "site": _choice(_SITES),
    "plant": _choice(_PLANTS),
    "unit": _choice(_UNITS),
    "title": _choice(_TITLES),
    "report": _choice(_REPORTS),
    "flat": _choice(_FLAT),
    "flat_future": _choice(_FLAT_FUTURE),
    "rating_up": _choice(_RATINGS_UP),
    "rating_down": _choice(_RATINGS_DOWN),
    "rating_keep": _choice(_RATINGS_KEEP),
    "pos_event": _choice(_POS_EVENTS),
    "neg_event": _choice(_NEG_EVENTS),
    "pos_reason": _choice(_POS_REASONS),
    "neg_reason": _choice(_NEG_REASONS),
    "tailwind": _choice(_TAILWINDS),
    "headwind": _choice(_HEADWINDS),
    "deal_action": _choice(_DEAL_ACTIONS),
}


def _sentence(rng: np.random.Generator, label: str) -> str:
    text = _pick(rng, _TEMPLATES[label]).format_map(_Slots(rng))
    return text[0].upper() + text[1:]


def _is_int(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _check_mix(label_mix: dict[str, float]) -> dict[str, float]:
    if not isinstance(label_mix, dict) or set(label_mix) != set(LABELS):
        raise ValueError(f"label_mix must be a dict with exactly the keys {LABELS}, got {label_mix!r}")
    for label, weight in label_mix.items():
        if (
            isinstance(weight, bool)
            or not isinstance(weight, (int, float, Real))
            or not math.isfinite(weight)
            or weight < 0
        ):
            raise ValueError(f"label_mix[{label!r}] must be a finite number >= 0, got {weight!r}")
    total = sum(float(label_mix[label]) for label in LABELS)
    if abs(total - 1.0) > 1e-6:
        raise ValueError(f"label_mix values must sum to 1 (tolerance 1e-6), got {total!r}")
    return {label: float(label_mix[label]) for label in LABELS}


def _validate(rows: int, seed: int, label_mix: dict[str, float] | None, label_noise: float) -> dict[str, float]:
    if not _is_int(rows) or rows < 1:
        raise ValueError(f"rows must be an int >= 1, got {rows!r}")
    if not _is_int(seed) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    if (
        isinstance(label_noise, bool)
        or not isinstance(label_noise, (int, float, Real))
        or not 0.0 <= float(label_noise) < 1.0
    ):
        raise ValueError(f"label_noise must be a number with 0 <= label_noise < 1, got {label_noise!r}")
    return _check_mix(DEFAULT_LABEL_MIX if label_mix is None else label_mix)


def _apportion(total: int, weights: Sequence[float]) -> np.ndarray:
    """Largest-remainder split of ``total`` by ``weights``; ties go to the earlier weight.

    Weights are read as the decimals they print as (0.45 means 9/20), so the
    arithmetic is exact and the rounding matches what the caller wrote.
    """
    fractions = [Fraction(str(weight)) for weight in weights]
    norm = sum(fractions)
    quotas = [total * weight / norm for weight in fractions]
    counts = [math.floor(quota) for quota in quotas]
    by_remainder = sorted(range(len(quotas)), key=lambda i: (-(quotas[i] - counts[i]), i))
    for i in by_remainder[: total - sum(counts)]:
        counts[i] += 1
    return np.array(counts, dtype=np.int64)


def _assign_labels(rng: np.random.Generator, counts: np.ndarray, noisy: int) -> tuple[np.ndarray, np.ndarray]:
    """Emitted and text class indices, noise spread over classes in proportion to their counts."""
    labels = np.repeat(np.arange(len(LABELS)), counts)
    texts = labels.copy()
    for cls, n_noisy in enumerate(_apportion(noisy, [int(count) for count in counts])):
        picked = rng.choice(np.flatnonzero(labels == cls), size=int(n_noisy), replace=False)
        texts[picked] = rng.choice(len(LABELS), size=int(n_noisy), p=_NOISE_SOURCES[cls])
    order = rng.permutation(len(labels))
    return labels[order], texts[order]


def _unique_sentences(rng: np.random.Generator, text_classes: np.ndarray) -> list[str]:
    seen: set[str] = set()
    sentences = []
    for cls in text_classes:
        for _ in range(_MAX_ATTEMPTS):
            text = _sentence(rng, LABELS[cls])
            if text not in seen:
                break
        else:
            raise RuntimeError(f"could not generate a unique sentence after {_MAX_ATTEMPTS} attempts")
        seen.add(text)
        sentences.append(text)
    return sentences


def generate_financial_sentiment(
    rows: int,
    seed: int,
    label_mix: dict[str, float] | None = None,
    label_noise: float = 0.08,
) -> pd.DataFrame:
    """Generate a seeded synthetic financial-news sentiment frame.

    Columns: ``row_id`` ('syn-000000' style), ``text``, ``label`` (one of
    ``LABELS``) and ``text_label`` (the sentiment the text was written with; it
    differs from ``label`` exactly on the ``round(rows * label_noise)`` noisy
    rows). Label counts are the largest-remainder rounding of ``rows * mix``.
    """
    mix = _validate(rows, seed, label_mix, label_noise)
    rng = np.random.default_rng(seed)
    counts = _apportion(rows, [mix[label] for label in LABELS])
    labels, text_classes = _assign_labels(rng, counts, round(rows * label_noise))
    return pd.DataFrame(
        {
            "row_id": [f"syn-{i:06d}" for i in range(rows)],
            "text": _unique_sentences(rng, text_classes),
            "label": [LABELS[i] for i in labels],
            "text_label": [LABELS[i] for i in text_classes],
        }
    )
