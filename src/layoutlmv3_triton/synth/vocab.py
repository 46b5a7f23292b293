"""Words for synthetic forms: questions paired with answer generators, tables, prose.

Why plain lists: the pages must be reproducible from a seed without any data download,
and the text must be ordinary printed English that Tesseract reads reliably (no rare
symbols, no glyphs that OCR confuses with punctuation).
"""

from __future__ import annotations

import random
from collections.abc import Callable

from layoutlmv3_triton.synth import words as english
from layoutlmv3_triton.synth.wordlists import (
    ADJ,
    CITIES,
    COLORS,
    COMPANY_A,
    COMPANY_B,
    COMPANY_C,
    DEPARTMENTS,
    DOMAIN_ANSWER_WORDS,
    DOMAIN_QUESTIONS,
    FIRST,
    HEADER_WORDS,
    LAST,
    MONTHS,
    NOUNS,
    PROSE,
    SECTION_WORDS,
    STATES,
    STREET_KIND,
    STREETS,
    TITLES,
)


def person(r: random.Random) -> str:
    return (
        f"{r.choice(FIRST)} {r.choice(LAST)}"
        if r.random() < 0.8
        else f"{r.choice(FIRST)} {r.choice('ABCDEFGHJKLMNPRSTW')}. {r.choice(LAST)}"
    )


def company(r: random.Random) -> str:
    parts = [r.choice(COMPANY_A), r.choice(COMPANY_B)]
    if r.random() < 0.6:
        parts.append(r.choice(COMPANY_C))
    return " ".join(parts)


def date(r: random.Random) -> str:
    y, m, d = r.randint(1985, 2024), r.randint(1, 12), r.randint(1, 28)
    style = r.randrange(4)
    if style == 0:
        return f"{m:02d}/{d:02d}/{y}"
    if style == 1:
        return f"{MONTHS[m - 1]} {d}, {y}"
    if style == 2:
        return f"{y}-{m:02d}-{d:02d}"
    return f"{d} {MONTHS[m - 1][:3]} {y}"


def phone(r: random.Random) -> str:
    a, b, c = r.randint(200, 989), r.randint(200, 989), r.randint(1000, 9999)
    return f"({a}) {b}-{c}" if r.random() < 0.5 else f"{a}-{b}-{c}"


def amount(r: random.Random) -> str:
    value = r.choice([r.randint(1, 999), r.randint(1000, 99999)]) + r.randint(0, 99) / 100
    return f"${value:,.2f}"


def number(r: random.Random) -> str:
    return str(r.choice([r.randint(1, 99), r.randint(100, 9999), r.randint(10000, 999999)]))


def code(r: random.Random) -> str:
    letters = "".join(r.choice("ABCDEFGHJKLMNPRSTUVWXYZ") for _ in range(r.randint(1, 3)))
    return f"{letters}-{r.randint(100, 99999)}"


def address(r: random.Random) -> str:
    return f"{r.randint(1, 9999)} {r.choice(STREETS)} {r.choice(STREET_KIND)}"


def city(r: random.Random) -> str:
    return f"{r.choice(CITIES)}, {r.choice(STATES)} {r.randint(10000, 99999)}" if r.random() < 0.6 else r.choice(CITIES)


def email(r: random.Random) -> str:
    return f"{r.choice(FIRST).lower()}.{r.choice(LAST).lower()}@{r.choice(COMPANY_A).lower()}.com"


def phrase(r: random.Random, lo: int = 2, hi: int = 6) -> str:
    words = [r.choice(PROSE) for _ in range(r.randint(lo, hi))]
    return " ".join(words).capitalize()


def note(r: random.Random) -> str:
    """A short free-form answer ("Revised budget review"), from answer words, not prose.

    It holds no department, city or date: those are answers of their own elsewhere, and a
    model trained briefly from scratch would start a new entity at them.
    """
    words = [r.choice(ADJ).capitalize(), r.choice(NOUNS)]
    if r.random() < 0.6:
        words.append(r.choice(NOUNS))
    return " ".join(words)


def short_phrase(r: random.Random) -> str:
    return f"{r.choice(ADJ).capitalize()} {r.choice(NOUNS)}"


def sentence(r: random.Random, lo: int = 6, hi: int = 16) -> str:
    return phrase(r, lo, hi) + "."


Gen = Callable[[random.Random], str]

# (question text, answer generator).  Questions are what a printed form asks.
QUESTIONS: tuple[tuple[str, Gen], ...] = (
    ("Name", person),
    ("Full Name", person),
    ("Submitted by", person),
    ("Prepared by", person),
    ("Approved by", person),
    ("Contact", person),
    ("Contact Person", person),
    ("Requested by", person),
    ("Manager", person),
    ("Supervisor", person),
    ("Reviewer", person),
    ("Signature", person),
    ("Date", date),
    ("Date of Birth", date),
    ("Start Date", date),
    ("End Date", date),
    ("Issue Date", date),
    ("Due Date", date),
    ("Date Received", date),
    ("Effective Date", date),
    ("Phone", phone),
    ("Telephone", phone),
    ("Fax", phone),
    ("Phone Number", phone),
    ("Mobile", phone),
    ("Company", company),
    ("Employer", company),
    ("Vendor", company),
    ("Supplier", company),
    ("Client", company),
    ("Organization", company),
    ("Agency", company),
    ("Address", address),
    ("Street Address", address),
    ("Mailing Address", address),
    ("City", city),
    ("City, State, Zip", city),
    ("Location", city),
    ("Email", email),
    ("E-mail Address", email),
    ("Amount", amount),
    ("Total", amount),
    ("Total Cost", amount),
    ("Budget", amount),
    ("Unit Price", amount),
    ("Balance Due", amount),
    ("Subtotal", amount),
    ("Quantity", number),
    ("No. of Pages", number),
    ("Account No.", code),
    ("Invoice No.", code),
    ("Reference", code),
    ("Order Number", code),
    ("Project Code", code),
    ("File No.", code),
    ("ID Number", code),
    ("Batch", code),
    ("Zip Code", number),
    ("Department", lambda r: r.choice(DEPARTMENTS)),
    ("Title", lambda r: r.choice(TITLES)),
    ("Position", lambda r: f"{r.choice(ADJ).capitalize()} {r.choice(TITLES)}"),
    ("Brand", lambda r: f"{r.choice(COMPANY_A)} {r.choice(COLORS)}"),
    ("Color", lambda r: r.choice(COLORS)),
    ("Subject", short_phrase),
    ("Purpose", note),
    ("Description", note),
    ("Comments", note),
    ("Remarks", note),
    ("Objective", note),
    ("Project", short_phrase),
    ("Program", short_phrase),
    ("Product", short_phrase),
    ("Status", lambda r: r.choice(["Approved", "Pending", "Completed", "In progress", "Rejected", "On hold"])),
)

CHECK_QUESTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Type of request", ("New", "Renewal", "Change")),
    ("Priority", ("High", "Medium", "Low")),
    ("Method of delivery", ("Mail", "Courier", "Fax", "Pick up")),
    ("Status", ("Open", "Closed")),
    ("Payment", ("Cash", "Check", "Credit card")),
    ("Approved", ("Yes", "No")),
    ("Category", ("Print", "Radio", "Television", "Outdoor")),
    ("Region", ("East", "West", "North", "South")),
    ("Frequency", ("Daily", "Weekly", "Monthly")),
    ("Sample sent", ("Yes", "No")),
)

# Table column sets: (column header, cell generator).
TABLES: tuple[tuple[tuple[str, Gen], ...], ...] = (
    (("Item", short_phrase), ("Qty", number), ("Unit Price", amount), ("Amount", amount)),
    (("Date", date), ("Activity", short_phrase), ("Hours", number)),
    (("Product", short_phrase), ("Code", code), ("Quantity", number)),
    (("Name", person), ("Department", lambda r: r.choice(DEPARTMENTS)), ("Phone", phone)),
    (("Description", short_phrase), ("Account", code), ("Cost", amount)),
    (
        ("Brand", lambda r: f"{r.choice(COMPANY_A)} {r.choice(COLORS)}"),
        ("Region", lambda r: r.choice(CITIES)),
        ("Budget", amount),
    ),
)


def title(r: random.Random) -> str:
    words = [r.choice(ADJ).capitalize()] if r.random() < 0.4 else []
    words += [r.choice(NOUNS).capitalize(), r.choice(HEADER_WORDS)]
    if r.random() < 0.3:
        words.append(r.choice(HEADER_WORDS))
    text = " ".join(words)
    return text.upper() if r.random() < 0.6 else text


def section_title(r: random.Random) -> str:
    text = f"{r.choice(SECTION_WORDS)} {r.choice(['Information', 'Details', 'Data', 'Summary'])}"
    if r.random() < 0.2:  # (no "A." prefixes: they look like a person's middle initial)
        text = f"Part {r.randint(1, 5)}: {text}"
    return text.upper() if r.random() < 0.5 else text


def word_phrase(r: random.Random, lo: int = 1, hi: int = 4) -> str:
    """Words from the broad English vocabulary (see words.py), cased as forms print them."""
    out = [english.common_word(r) if r.random() < 0.7 else english.rare_word(r) for _ in range(r.randint(lo, hi))]
    case = r.random()
    if case < 0.3:
        return " ".join(out).upper()
    if case < 0.7:
        return " ".join(w.capitalize() for w in out)
    return " ".join(out).capitalize()


def domain_answer(r: random.Random) -> str:
    words = [r.choice(DOMAIN_ANSWER_WORDS) for _ in range(r.randint(1, 4))]
    return " ".join(words).upper() if r.random() < 0.3 else " ".join(words).capitalize()


def any_answer(r: random.Random) -> str:
    """An answer of any kind: a typed value of the usual generators, or words."""
    gen = r.choice(
        (
            person,
            date,
            phone,
            amount,
            number,
            code,
            company,
            city,
            address,
            note,
            short_phrase,
            word_phrase,
            word_phrase,
            domain_answer,
            domain_answer,
        )
    )
    return gen(r)


def open_question(r: random.Random) -> tuple[str, Gen]:
    """A question beyond the fixed list: a domain label or a few English words."""
    if r.random() < 0.6:
        text = r.choice(DOMAIN_QUESTIONS)
    else:
        text = word_phrase(r, 1, 3)
    if r.random() < 0.35:
        text = text.upper()
    return text, any_answer


def prose(r: random.Random, lo: int = 8, hi: int = 40) -> str:
    """Running English text (instructions, letter bodies, small print), frequency-true."""
    out, start = [], True
    for _ in range(r.randint(lo, hi)):
        w = english.common_word(r) if r.random() < 0.92 else english.rare_word(r)
        out.append(w.capitalize() if start else w)
        start = False
        if r.random() < 0.08:
            out[-1] += r.choice(".,.;:")
            start = out[-1].endswith(".")
    return " ".join(out).rstrip(",;:") + "."


def doc_id(r: random.Random) -> str:
    """A document or Bates-style number, as stamped at the foot of archived pages."""
    style = r.randrange(3)
    if style == 0:
        return str(r.randint(10**9, 10**10 - 1))
    if style == 1:
        return f"{r.choice('ABCDEFGHJKLMNPRSTUVWXYZ')}{r.randint(10**5, 10**7)}"
    return f"{r.randint(1000, 9999)} {r.randint(1000, 9999)}"
