"""Words for synthetic forms: questions paired with answer generators, tables, prose.

Why plain lists: the pages must be reproducible from a seed without any data download,
and the text must be ordinary printed English that Tesseract reads reliably (no rare
symbols, no glyphs that OCR confuses with punctuation).
"""
from __future__ import annotations

import random
from collections.abc import Callable

FIRST = ("John Mary James Linda Robert Susan Michael Karen David Nancy William Lisa Richard Betty "
         "Thomas Sandra Charles Donna Daniel Carol Paul Helen Mark Sharon George Laura Steven Anna "
         "Edward Ruth Brian Julie Kevin Emma Peter Alice Frank Grace Henry Diane").split()
LAST = ("Smith Johnson Williams Brown Jones Miller Davis Wilson Anderson Taylor Thomas Moore Martin "
        "Jackson Thompson White Harris Clark Lewis Walker Hall Allen Young King Wright Scott Green "
        "Baker Adams Nelson Carter Mitchell Roberts Turner Phillips Campbell Parker Evans Edwards").split()
COMPANY_A = ("Acme Global Pioneer Summit Northern Lakeside Atlas Horizon Sterling Keystone Liberty "
             "Evergreen Harbor Crescent Union Beacon Granite Central Western Riverside").split()
COMPANY_B = ("Research Industries Tobacco Foods Chemicals Logistics Insurance Media Labs Systems "
             "Products Services Holdings Partners Manufacturing Marketing Foundation").split()
COMPANY_C = ("Inc. Corp. Co. Ltd. Group LLC Company").split()
STREETS = ("Main Oak Maple Cedar Pine Elm Washington Lake Hill Park River Church Market Spring "
           "Union Madison Lincoln Jefferson Franklin Highland").split()
STREET_KIND = ("Street Avenue Road Drive Lane Boulevard Court Place").split()
CITIES = ("Springfield Richmond Greenville Bristol Clinton Fairview Salem Madison Georgetown Arlington "
          "Ashland Dover Oxford Burlington Manchester Milton Newport Winston Chester Durham").split()
STATES = ("NY CA TX NC VA OH PA IL GA NJ MA WA").split()
MONTHS = ("January February March April May June July August September October November "
          "December").split()
DEPARTMENTS = ("Marketing Research Finance Legal Sales Operations Purchasing Engineering Quality "
               "Accounting Production Administration").split()
TITLES = ("Manager Director Analyst Chemist Supervisor Coordinator Assistant Engineer Consultant "
          "Scientist Officer Associate").split()
ADJ = ("new final annual revised special initial regional national weekly monthly standard "
       "general current previous additional").split()  # no "total": it is a question ("Total:")
NOUNS = ("report program review budget project product study shipment order sample test "
         "proposal contract account request survey meeting schedule invoice brand campaign").split()
COLORS = ("Red Blue Green Black White Gold Silver Brown").split()
PROSE = tuple((
    "the of and to in for is on that by this with be are from at as all have an was will can "
    "about if page has one other time they may what which their use any there only when here "
    "also help been would were some these like service than find price date back list name "
    "just over state year day into two used work last most products make them should product "
    "system policy number such please available after best then good well where information "
    "high through each review years order very items company read group need many said does "
    "set under general research full program management part could center must made report "
    "details line terms before right type because local office national design take address "
    "area phone shipping subject between based code check special website being much file "
    "today security both related same project section own found county total place following "
    "without access current resources control water history size personal since including "
    "board location change text small rate government during return account form events old "
    "call hours department title description insurance another shall property class money "
    "quality every content private visit tools customer value provide different process room "
    "stock training credit point start series features industry plan provided required second "
    "cost study application staff complete standard tax below equipment legal above recent "
    "party payment side act problem give performance quote options create key important field "
    "paper single additional latest request fax making possible professional future committee "
    "meeting interest share similar reference energy delivery term journal reports notice "
    "original council least agreement format safety trade marketing association able provides "
    "studies close common specific several called short limited solutions means director daily "
    "period planning database official average technical record direct conference records "
    "district costs statement update parts early material written federal rules final "
    "requirements minutes individual percent function unit getting economic projects amount "
    "included bank risk production commercial weight advertising received treatment knowledge "
    "construction receive methods chapter protection policies position taken sort models known "
    "half cases step engineering simple annual published basic corporate method purchase "
    "customers active response practice figure materials enough designed brand higher effects "
    "standards increase base agency summary growth notes activity copy income cash employment "
    "overall commission package contents supplies administration plans exchange types needed "
    "benefits apply condition effective organization selection volume corporation addition "
    "supply certain executive necessary distribution division values opportunities sample "
    "investment consumer letter structure fund contract located multiple responsible primary "
    "reason schedule documents purpose independent approach operating survey prior telephone "
    "regular secure operations evidence recently improve transfer assessment budget success "
    "maximum operation existing selected significant retail directly manufacturer authority "
    "considered strategy valid senior testing trial charge units normal entire leading "
    "positive output funds alternative processing responsibility completed assistance filter "
    "mailing approved maintenance ability established instructions minimum variety manual "
    "increased fixed capacity requires quotes procedures evaluation accepted implementation "
    "critical monthly secretary employee detail guidelines demand allowed firm regulations "
    "facility pricing certificate coverage clients markets temperature actual scientific "
    "factors accounts initial label recommend optional accounting manufacturing effort phase "
    "fields letters generally continued techniques quantity samples submitted results"
).split())


def person(r: random.Random) -> str:
    return f"{r.choice(FIRST)} {r.choice(LAST)}" if r.random() < 0.8 else \
        f"{r.choice(FIRST)} {r.choice('ABCDEFGHJKLMNPRSTW')}. {r.choice(LAST)}"


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
    return f"{r.choice(CITIES)}, {r.choice(STATES)} {r.randint(10000, 99999)}" if r.random() < 0.6 \
        else r.choice(CITIES)


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
    ("Name", person), ("Full Name", person), ("Submitted by", person), ("Prepared by", person),
    ("Approved by", person), ("Contact", person), ("Contact Person", person), ("Requested by", person),
    ("Manager", person), ("Supervisor", person), ("Reviewer", person), ("Signature", person),
    ("Date", date), ("Date of Birth", date), ("Start Date", date), ("End Date", date),
    ("Issue Date", date), ("Due Date", date), ("Date Received", date), ("Effective Date", date),
    ("Phone", phone), ("Telephone", phone), ("Fax", phone), ("Phone Number", phone), ("Mobile", phone),
    ("Company", company), ("Employer", company), ("Vendor", company), ("Supplier", company),
    ("Client", company), ("Organization", company), ("Agency", company),
    ("Address", address), ("Street Address", address), ("Mailing Address", address),
    ("City", city), ("City, State, Zip", city), ("Location", city),
    ("Email", email), ("E-mail Address", email),
    ("Amount", amount), ("Total", amount), ("Total Cost", amount), ("Budget", amount),
    ("Unit Price", amount), ("Balance Due", amount), ("Subtotal", amount),
    ("Quantity", number), ("No. of Pages", number), ("Account No.", code), ("Invoice No.", code),
    ("Reference", code), ("Order Number", code), ("Project Code", code), ("File No.", code),
    ("ID Number", code), ("Batch", code), ("Zip Code", number),
    ("Department", lambda r: r.choice(DEPARTMENTS)), ("Title", lambda r: r.choice(TITLES)),
    ("Position", lambda r: f"{r.choice(ADJ).capitalize()} {r.choice(TITLES)}"),
    ("Brand", lambda r: f"{r.choice(COMPANY_A)} {r.choice(COLORS)}"), ("Color", lambda r: r.choice(COLORS)),
    ("Subject", short_phrase), ("Purpose", note), ("Description", note), ("Comments", note),
    ("Remarks", note), ("Objective", note), ("Project", short_phrase), ("Program", short_phrase),
    ("Product", short_phrase), ("Status", lambda r: r.choice(["Approved", "Pending", "Completed",
                                                             "In progress", "Rejected", "On hold"])),
)

CHECK_QUESTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Type of request", ("New", "Renewal", "Change")), ("Priority", ("High", "Medium", "Low")),
    ("Method of delivery", ("Mail", "Courier", "Fax", "Pick up")), ("Status", ("Open", "Closed")),
    ("Payment", ("Cash", "Check", "Credit card")), ("Approved", ("Yes", "No")),
    ("Category", ("Print", "Radio", "Television", "Outdoor")), ("Region", ("East", "West", "North", "South")),
    ("Frequency", ("Daily", "Weekly", "Monthly")), ("Sample sent", ("Yes", "No")),
)

# Table column sets: (column header, cell generator).
TABLES: tuple[tuple[tuple[str, Gen], ...], ...] = (
    (("Item", short_phrase), ("Qty", number), ("Unit Price", amount), ("Amount", amount)),
    (("Date", date), ("Activity", short_phrase), ("Hours", number)),
    (("Product", short_phrase), ("Code", code), ("Quantity", number)),
    (("Name", person), ("Department", lambda r: r.choice(DEPARTMENTS)), ("Phone", phone)),
    (("Description", short_phrase), ("Account", code), ("Cost", amount)),
    (("Brand", lambda r: f"{r.choice(COMPANY_A)} {r.choice(COLORS)}"), ("Region", lambda r: r.choice(CITIES)),
     ("Budget", amount)),
)

_ANSWER_WORDS = {w.lower() for w in (*ADJ, *NOUNS, *DEPARTMENTS, *TITLES, *COLORS, *MONTHS, *CITIES)}
PROSE = tuple(w for w in PROSE if w not in _ANSWER_WORDS)

HEADER_WORDS = ("Request Application Report Summary Record Form Agreement Authorization Evaluation "
                "Invoice Order Registration Transmittal Proposal Review Memorandum Statement Profile "
                "Information Details Approval Checklist Schedule").split()
SECTION_WORDS = ("General Contact Applicant Project Billing Shipping Account Product Budget "
                 "Approval Vendor Company Personal Additional Technical Financial Delivery").split()


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


# --- the vocabulary of real business, legal, scientific and tobacco-industry forms -----------
# Written for this project from general knowledge of such paperwork (transmittals, purchase
# orders, study reports, marketing plans, litigation cover sheets).
DOMAIN_QUESTIONS = tuple(q.strip() for q in (
    "To, From, Re, Subject, Attention, Cc, Fax No., Phone No., Total Pages, Pages Including Cover, Sender, "
    "Recipient, Sent By, Received By, Message, Urgent, Reply Requested, Brand Name, Test Market, Region, Division, "
    "Territory, Sales Rep, Distributor, Retailer, Account Name, Store No., Chain, Quantity Shipped, Cartons, "
    "Packs, Cases, Units, Promotion, Offer, Coupon Value, Expiration Date, Media, Circulation, Insertion Date, "
    "Job No., Budget Code, Cost Center, Charge To, Authorized By, Requisition No., Purchase Order No., Vendor No., "
    "Ship To, Bill To, Terms, F.O.B., Freight, Tax, Net Amount, Invoice Date, Check No., Payee, Study No., "
    "Protocol No., Study Director, Sponsor, Test Article, Lot No., Batch No., Sample No., Specimen, Species, "
    "Strain, Dose, Route, Duration, Laboratory, Principal Investigator, Analyst, Method, Assay, Result, Tar, "
    "Nicotine, Carbon Monoxide, Filter Length, Circumference, Blend, Menthol, Pressure Drop, Ventilation, "
    "Moisture, Weight, Draw Resistance, Case Name, Case No., Docket No., Court, Plaintiff, Defendant, Counsel, "
    "Attorney, Witness, Deposition Date, Exhibit No., Document No., Bates No., Custodian, Privilege, "
    "Production Date, Source, File Name, Author, Addressee, Document Type, Document Date, Subject Matter, "
    "Project Name, Project No., Completion Date, Background, Conclusion, Recommendation, Extension, Room No., "
    "Employee No., Date of Hire, Grade, Salary, Copies To, Distribution, Comments, Notes, Other").split(","))
DOMAIN_ANSWER_WORDS = (
    "cigarettes filter menthol regular lights ultra king box soft pack carton tobacco leaf blend flavor smoke "
    "smokers adult consumer panel sampling promotion display counter retail wholesale distributor shipment "
    "invoice purchase order requisition voucher remittance approved pending confidential privileged attorney "
    "client work product deposition exhibit litigation plaintiff defendant counsel court docket subpoena "
    "affidavit protocol assay specimen toxicology mutagenicity inhalation rats mice laboratory analysis "
    "chromatography extract condensate nicotine tar carbon monoxide moisture humectant additive casing "
    "research development quality control marketing advertising media magazine newspaper billboard radio "
    "television sponsorship event coupon rebate premium catalog brand manager field sales region district "
    "territory account store chain convenience supermarket drug warehouse freight prepaid collect net "
    "days memo letter report summary minutes agenda budget forecast estimate actual variance").split()
FAX_WORDS = ("FAX TRANSMITTAL FACSIMILE COVER SHEET TELECOPY MEMORANDUM ROUTING SLIP").split()
STAMPS = ("RECEIVED CONFIDENTIAL APPROVED COPY FILE URGENT DRAFT PAID VOID ORIGINAL DUPLICATE").split()


def word_phrase(r: random.Random, lo: int = 1, hi: int = 4) -> str:
    """Words from the broad English vocabulary (see words.py), cased as forms print them."""
    from layoutlmv3_triton.synth import words

    out = [words.common_word(r) if r.random() < 0.7 else words.rare_word(r) for _ in range(r.randint(lo, hi))]
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
    gen = r.choice((person, date, phone, amount, number, code, company, city, address, note, short_phrase,
                    word_phrase, word_phrase, domain_answer, domain_answer))
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
    from layoutlmv3_triton.synth import words

    out, start = [], True
    for _ in range(r.randint(lo, hi)):
        w = words.common_word(r) if r.random() < 0.92 else words.rare_word(r)
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
