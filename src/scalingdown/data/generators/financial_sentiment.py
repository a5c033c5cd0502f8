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

_TEMPLATES: dict[str, tuple[str, ...]] = {
    "positive": (
        "{period}, {cos} {metric} {up} {pct} to {money}{attr}.",
        "{cos} {metric} {up} {up_pair} {period}{attr}.",
        "Despite {downadj} {driver}, {cos} {profit} {up} {pct} {period}.",
        "Although {driver} {down} {pct}, {cos} {profit} {up} {up_pair}{attr}.",
        "{cos} {profit} {up} {pct} {period} as {cost} {down}.",
        "Despite {cost_upadj} {cost}, {co} managed to {up_tr} its {profit} by {pct} {period}.",
        "{cos} {metric} did not {down_inf} {period}, contrary to market fears{attr}.",
        "{co} has won an order worth {money} from {co2} to deliver {product}.",
        "{co} raised its full-year outlook and now expects {metric} to {up_inf} by {pct}.",
        "{co} expects its {metric} to {up_inf} {fperiod}{attr}.",
        "{analysts} say {cos} {metric} is likely to {up_inf} {fperiod}, helped by {tailwind}.",
        "Shares in {co} {up} {pct} after the company {pos_event}.",
        "{broker} upgraded {co} to {rating_up}, citing {pos_reason}.",
        "The board of {co} proposes a dividend of {div_up}.",
        "{co} will open a new {site} in {city}, creating about {jobs} new jobs.",
        "{cos} operating margin improved {margin_up} {period}.",
        "{co} returned to profit {period}, posting {profit} of {money} against a loss of {money2} a year earlier.",
        "{co} said demand for {product} recovered faster than expected {period}.",
        "{co} had expected {metric} to {down_inf}, but it {up} {pct} {period}.",
        "{co} completed the acquisition of {co2}, which will strengthen its position in {sector}{attr}.",
        "{co} has cancelled the planned job cuts at its {site} in {city} as orders {up} {pct}.",
        "{cos} {profit} {up} {pct} {period}, although {driver} {down} {region}.",
        "The {site} in {city} did not suffer from {headwind}, and {cos} {metric} {up} {pct} {period}.",
        "Lower {cost} offset weaker {driver}, and {cos} {profit} {up} {pct} {period}.",
        "{driver} {down} {pct} {period}, but {cos} {profit} {up} {up_pair}.",
        "{co} posted {a_pct} {up_n} in {profit} {period}, even though {driver} {down}.",
        "Despite {a_pct} {down_n} in {driver}, {cos} {profit} {up} {period}{attr}.",
        "{co} no longer expects its {metric} to {down_inf} {fperiod}{attr}.",
        "{co} said its {metric} would not {down_inf} {fperiod}, easing concerns among investors.",
    ),
    "negative": (
        "{period}, {cos} {metric} {down} {pct} to {money}{attr}.",
        "{cos} {metric} {down} {down_pair} {period}{attr}.",
        "Despite {upadj} {driver}, {cos} {profit} {down} {pct} {period}.",
        "Although {driver} {up} {pct}, {cos} {profit} {down} {down_pair}{attr}.",
        "{cos} {profit} {down} {pct} {period} as {cost} {up}.",
        "Despite {cost_downadj} {cost}, {co} failed to {up_tr} its {profit} {period}.",
        "{co} failed to meet analysts' expectations as {metric} {down} {pct} {period}.",
        "{cos} {metric} did not {up_inf} {period}, contrary to company forecasts{attr}.",
        "{co2} has cancelled an order worth {money} from {co}{attr}.",
        "{co} lowered its full-year outlook and now expects {metric} to {down_inf} by {pct}.",
        "{co} expects its {metric} to {down_inf} {fperiod}{attr}.",
        "{analysts} say {cos} {metric} may {down_inf} {fperiod} due to {headwind}.",
        "Shares in {co} {down} {pct} after the company {neg_event}.",
        "{broker} downgraded {co} to {rating_down}, citing {neg_reason}.",
        "The board of {co} proposes a dividend of {div_down}.",
        "{co} will close its {site} in {city}, and about {jobs} employees will lose their jobs.",
        "{cos} operating margin weakened {margin_down} {period}.",
        "{co} swung to an operating loss of {money} {period}, compared with a profit of {money2} a year earlier.",
        "{co} said demand for {product} did not recover {period} as expected.",
        "{co} had expected {metric} to {up_inf}, but it {down} {pct} {period}.",
        "{co} booked an impairment charge of {money} on its {sector} business{attr}.",
        "{co} has postponed the opening of its new {site} in {city} as orders {down} {pct}.",
        "{cos} {profit} {down} {pct} {period}, although {driver} {up} {region}.",
        "{co} may cut up to {jobs} jobs at its {site} in {city}, as {metric} did not {up_inf} {period}.",
        "Higher {driver} could not offset rising {cost}, and {cos} {profit} {down} {pct} {period}.",
        "{driver} {up} {pct} {period}, but {cos} {profit} {down} {down_pair}.",
        "{co} posted {a_pct} {down_n} in {profit} {period}, even though {driver} {up}.",
        "Despite {a_pct} {up_n} in {driver}, {cos} {profit} {down} {period}{attr}.",
        "{co} no longer expects its {metric} to {up_inf} {fperiod}{attr}.",
        "{co} warned that its {metric} would not {up_inf} {fperiod}, adding to concerns among investors.",
    ),
    "neutral": (
        "{cos} {metric} amounted to {money} {period}, {flat}.",
        "{co} will publish its {report} on {date}.",
        "{co} has appointed {person} as {title}, effective {date}{attr}.",
        "{broker} kept its {rating_keep} rating on {co}, with a target price of {price}.",
        "{co} has agreed to acquire {co2} for {money}, and the deal is expected to close {fperiod}.",
        "The board of {co} proposes a dividend of {div_same}.",
        "The {plant} in {city} employs {site_staff} people and produces {product}.",
        "{co} reiterated its outlook and expects {metric} {fperiod} to be at the same level as in {year}.",
        "{co} signed a framework agreement with {co2}, but the value of the contract was not disclosed.",
        "Shares in {co} closed unchanged at {price} on {weekday}.",
        "{co} employs about {staff} people in {countries} countries{attr}.",
        "{co} said it has not yet decided on the future of its {site} in {city}.",
        "It is too early to say whether demand for {product} will {up_inf} or {down_inf}, {analysts_said}.",
        "{co} is a {nationality} {sector} company with operations in {countries} countries.",
        "{analysts} expect {co} to report {metric} of {money} for {period_name}, according to a poll.",
        "{cos} {metric} {period} was in line with market expectations{attr}.",
        "The transaction is not expected to have a material effect on {cos} {profit}{attr}.",
        "{cos} order backlog stood at {money} at the end of {period_name}.",
        "The new {plant} in {city} is scheduled to be completed {fperiod}.",
        "{co} did not change its guidance and still expects {metric} {fperiod} to be {flat_future}.",
        "{co} will hold a capital markets day in {city} on {date}.",
        "{co} and {co2} will combine their {sector} operations in a joint venture"
        " in which {co} will hold a {pct} stake.",
        "{co} declined to comment on market speculation that it could {deal_action} {co2}.",
        "{co} said it may list its {unit} business separately {fperiod}{attr}.",
        "The figures are not comparable with {period_name}, when {cos} {metric} included {co2}.",
        "Gains in {driver} {region} were offset by losses elsewhere, and {cos} {profit} was flat {period}.",
        "Higher {cost} were passed on to customers, leaving {cos} {profit} unchanged at {money} {period}.",
        "The index of {sector} shares closed flat, as gains in {co} offset a drop in {co2}.",
        "{cos} {profit} {period} includes a one-off gain of {money} from the sale of its {unit} unit.",
        "Analysts will watch whether {cos} {metric} can {up_inf} again {fperiod}.",
    ),
}

_NAME_HEADS = (
    "Nord",
    "Kest",
    "Ald",
    "Brim",
    "Cor",
    "Dal",
    "Elm",
    "Fjell",
    "Grav",
    "Hal",
    "Isk",
    "Jarn",
    "Kal",
    "Lum",
    "Mar",
    "Norr",
    "Ost",
    "Pol",
    "Rav",
    "Sol",
    "Tor",
    "Ulv",
    "Var",
    "Vest",
    "Aur",
    "Bal",
    "Cal",
    "Esk",
    "Hav",
    "Lin",
    "Sjo",
    "Tam",
)
_NAME_TAILS = (
    "vale",
    "rel",
    "ton",
    "ia",
    "mark",
    "berg",
    "lund",
    "sten",
    "ova",
    "ex",
    "wick",
    "haven",
    "dal",
    "mo",
    "tek",
    "ium",
    "ford",
    "by",
    "ara",
    "nova",
)
_COMPANY_FORMS = (
    "Oyj",
    "AB",
    "ASA",
    "A/S",
    "plc",
    "Group",
    "Systems",
    "Industries",
    "Holdings",
    "Corporation",
    "Technologies",
    "Logistics",
    "Foods",
    "Energy",
    "Components",
    "Paper",
    "Steel",
    "Solutions",
    "Marine",
    "Pharma",
)
_BROKER_FORMS = ("Securities", "Markets", "Equities", "Capital", "Research", "Bank")
_FIRST_NAMES = (
    "Anna",
    "Mikko",
    "Jonas",
    "Liisa",
    "Erik",
    "Sofia",
    "Pekka",
    "Maria",
    "Lars",
    "Heidi",
    "Tomas",
    "Katja",
    "Olli",
    "Ingrid",
    "Johan",
    "Sanna",
    "Henrik",
    "Elina",
    "Magnus",
    "Tuula",
)
_SURNAME_HEADS = ("Lind", "Berg", "Rauta", "Holm", "Salo", "Vik", "Sund", "Koski", "Aho", "Strand", "Ek", "Mäki")
_SURNAME_TAILS = ("qvist", "nen", "strom", "ander", "gren", "dahl", "lainen", "man", "berg")
_TITLES = (
    "chief executive officer",
    "chief financial officer",
    "CEO",
    "CFO",
    "head of sales",
    "chief operating officer",
    "chairman of the board",
    "head of investor relations",
    "president of the services division",
)
_CITIES = (
    "Tampere",
    "Oulu",
    "Turku",
    "Espoo",
    "Gothenburg",
    "Malmo",
    "Uppsala",
    "Bergen",
    "Trondheim",
    "Aarhus",
    "Tallinn",
    "Riga",
    "Vilnius",
    "Gdansk",
    "Lodz",
    "Brno",
    "Hamburg",
    "Lyon",
    "Porto",
    "Pori",
    "Vaasa",
    "Lahti",
    "Kotka",
    "Stavanger",
    "Odense",
    "Kaunas",
    "Tartu",
)
_NATIONALITIES = ("Finnish", "Swedish", "Norwegian", "Danish", "Estonian", "Latvian", "Polish", "German", "Dutch")
_SECTORS = (
    "packaging",
    "forest products",
    "telecom equipment",
    "engineering",
    "retail",
    "software",
    "shipping",
    "construction",
    "food processing",
    "chemicals",
    "metals",
    "electronics",
    "renewable energy",
    "medical devices",
    "logistics",
    "media",
    "insurance",
)
_PRODUCTS = (
    "paperboard",
    "cargo cranes",
    "network equipment",
    "elevators",
    "frozen foods",
    "steel pipes",
    "wind turbine parts",
    "medical sensors",
    "software licences",
    "industrial valves",
    "printed circuit boards",
    "diesel engines",
    "packaging machines",
    "wood pellets",
    "fibre cables",
    "bakery products",
)
_REGIONS = (
    "in Europe",
    "in the Nordic countries",
    "in North America",
    "in Asia",
    "in the Baltic countries",
    "in Germany",
    "in China",
    "on its domestic market",
)
_PLANTS = ("plant", "factory", "mill", "production unit")
_SITES = ("plant", "factory", "mill", "production unit", "distribution centre", "service centre", "warehouse")
_UNITS = ("paper", "services", "marine", "consumer", "industrial", "retail", "logistics", "software", "components")
_COSTS = (
    "raw material costs",
    "energy prices",
    "personnel expenses",
    "freight costs",
    "pulp prices",
    "steel prices",
    "financing costs",
    "restructuring costs",
    "component prices",
)
_METRICS = (
    "turnover",
    "revenue",
    "operating profit",
    "net profit",
    "pre-tax profit",
    "EBITDA",
    "comparable operating profit",
    "order intake",
    "profit before taxes",
    "operating income",
)
_PROFITS = (
    "operating profit",
    "net profit",
    "pre-tax profit",
    "EBITDA",
    "comparable operating profit",
    "profit before taxes",
    "operating income",
    "operating result",
)
_DRIVERS = ("net sales", "revenue", "deliveries", "volumes", "order intake", "demand", "sales volumes", "prices")
_UP = ("rose", "increased", "grew", "climbed", "improved", "went up", "jumped", "edged up")
_DOWN = ("fell", "decreased", "declined", "dropped", "slipped", "weakened", "went down", "edged down")
_UP_INF = ("rise", "increase", "grow", "improve", "climb")
_DOWN_INF = ("fall", "decrease", "decline", "weaken", "drop")
_UP_NOUN = ("rise", "increase", "jump", "gain")
_DOWN_NOUN = ("drop", "decline", "fall", "decrease")
_UP_TR = ("increase", "improve", "lift", "boost", "grow")
_UP_ADJ = ("higher", "stronger", "increased", "growing", "rising")
_DOWN_ADJ = ("lower", "weaker", "softer", "falling", "declining", "reduced")
_COST_UP_ADJ = ("higher", "increased", "growing", "rising")
_COST_DOWN_ADJ = ("lower", "falling", "reduced", "declining")
_ORDINALS = ("first", "second", "third", "fourth")
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")
_FUTURE_PERIODS = (
    "next year",
    "this year",
    "in the second half of the year",
    "in the current quarter",
    "in the coming quarters",
    "in the first quarter",
    "over the next two years",
)
_ATTRIBUTIONS = (
    "",
    "",
    "",
    "",
    ", the company said",
    ", according to the company",
    ", it said in a statement",
    ", the company reported",
    ", the group said",
    ", it said",
)
_FLAT = (
    "unchanged from a year earlier",
    "in line with the previous year",
    "level with the corresponding period last year",
    "roughly the same as a year ago",
)
_FLAT_FUTURE = ("at the previous year's level", "roughly unchanged", "in line with last year")
_REPORTS = (
    "interim report",
    "half-year report",
    "financial statements release",
    "annual report",
    "third-quarter results",
    "sustainability report",
)
_RATINGS_UP = (
    "'buy' from 'hold'",
    "'outperform' from 'neutral'",
    "'accumulate' from 'reduce'",
    "'hold' from 'sell'",
)
_RATINGS_DOWN = (
    "'sell' from 'hold'",
    "'hold' from 'buy'",
    "'underperform' from 'neutral'",
    "'reduce' from 'accumulate'",
)
_RATINGS_KEEP = ("'hold'", "'neutral'", "'market perform'", "'equal weight'")
_POS_EVENTS = (
    "reported better-than-expected results",
    "announced a share buyback",
    "raised its profit forecast",
    "won a major defence contract",
    "secured financing for its expansion",
)
_NEG_EVENTS = (
    "issued a profit warning",
    "reported weaker-than-expected results",
    "lost its largest customer",
    "cut its sales forecast",
    "announced further job cuts",
)
_POS_REASONS = (
    "improving margins",
    "strong order books",
    "a recovery in demand",
    "successful cost cuts",
    "an attractive valuation",
)
_NEG_REASONS = (
    "weakening demand",
    "rising costs",
    "margin pressure",
    "a weak order backlog",
    "an uncertain market outlook",
)
_TAILWINDS = (
    "strong demand in Asia",
    "new product launches",
    "lower energy costs",
    "recent acquisitions",
    "a recovering housing market",
)
_HEADWINDS = (
    "weak demand in Europe",
    "rising energy costs",
    "lower prices",
    "a slowing housing market",
    "intense competition",
)
_DEAL_ACTIONS = ("bid for", "merge with", "sell assets to", "take a stake in")
_PCT_SUFFIXES = ("%", "%", "%", " percent", " pct")
_CURRENCIES = ("EUR", "EUR", "EUR", "USD", "SEK", "NOK")


class _Slots(dict):
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
    whole = int(re.match(r"\d+", phrase).group())
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
        if isinstance(weight, bool) or not isinstance(weight, Real) or not math.isfinite(weight) or weight < 0:
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
    if isinstance(label_noise, bool) or not isinstance(label_noise, Real) or not 0.0 <= float(label_noise) < 1.0:
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
