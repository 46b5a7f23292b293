"""The word lists the synthetic forms draw from: names, places, form vocabulary and prose.

Plain data, no logic: ``vocab`` (the generators) and ``words`` (the frequency-true English
sampler, which falls back to ``PROSE`` without wordfreq) both read it.
"""

from __future__ import annotations

FIRST = (
    "John Mary James Linda Robert Susan Michael Karen David Nancy William Lisa Richard Betty "
    "Thomas Sandra Charles Donna Daniel Carol Paul Helen Mark Sharon George Laura Steven Anna "
    "Edward Ruth Brian Julie Kevin Emma Peter Alice Frank Grace Henry Diane"
).split()
LAST = (
    "Smith Johnson Williams Brown Jones Miller Davis Wilson Anderson Taylor Thomas Moore Martin "
    "Jackson Thompson White Harris Clark Lewis Walker Hall Allen Young King Wright Scott Green "
    "Baker Adams Nelson Carter Mitchell Roberts Turner Phillips Campbell Parker Evans Edwards"
).split()
COMPANY_A = (
    "Acme Global Pioneer Summit Northern Lakeside Atlas Horizon Sterling Keystone Liberty "
    "Evergreen Harbor Crescent Union Beacon Granite Central Western Riverside"
).split()
COMPANY_B = (
    "Research Industries Tobacco Foods Chemicals Logistics Insurance Media Labs Systems "
    "Products Services Holdings Partners Manufacturing Marketing Foundation"
).split()
COMPANY_C = ("Inc. Corp. Co. Ltd. Group LLC Company").split()
STREETS = (
    "Main Oak Maple Cedar Pine Elm Washington Lake Hill Park River Church Market Spring "
    "Union Madison Lincoln Jefferson Franklin Highland"
).split()
STREET_KIND = ("Street Avenue Road Drive Lane Boulevard Court Place").split()
CITIES = (
    "Springfield Richmond Greenville Bristol Clinton Fairview Salem Madison Georgetown Arlington "
    "Ashland Dover Oxford Burlington Manchester Milton Newport Winston Chester Durham"
).split()
STATES = ("NY CA TX NC VA OH PA IL GA NJ MA WA").split()
MONTHS = ("January February March April May June July August September October November " "December").split()
DEPARTMENTS = (
    "Marketing Research Finance Legal Sales Operations Purchasing Engineering Quality "
    "Accounting Production Administration"
).split()
TITLES = (
    "Manager Director Analyst Chemist Supervisor Coordinator Assistant Engineer Consultant "
    "Scientist Officer Associate"
).split()
ADJ = (
    "new final annual revised special initial regional national weekly monthly standard "
    "general current previous additional"
).split()  # no "total": it is a question ("Total:")
NOUNS = (
    "report program review budget project product study shipment order sample test "
    "proposal contract account request survey meeting schedule invoice brand campaign"
).split()
COLORS = ("Red Blue Green Black White Gold Silver Brown").split()
PROSE = tuple(
    (
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
    ).split()
)
_ANSWER_WORDS = {w.lower() for w in (*ADJ, *NOUNS, *DEPARTMENTS, *TITLES, *COLORS, *MONTHS, *CITIES)}
PROSE = tuple(w for w in PROSE if w not in _ANSWER_WORDS)
HEADER_WORDS = (
    "Request Application Report Summary Record Form Agreement Authorization Evaluation "
    "Invoice Order Registration Transmittal Proposal Review Memorandum Statement Profile "
    "Information Details Approval Checklist Schedule"
).split()
SECTION_WORDS = (
    "General Contact Applicant Project Billing Shipping Account Product Budget "
    "Approval Vendor Company Personal Additional Technical Financial Delivery"
).split()
# --- the vocabulary of real business, legal, scientific and tobacco-industry forms -----------
# Written for this project from general knowledge of such paperwork (transmittals, purchase
# orders, study reports, marketing plans, litigation cover sheets).
DOMAIN_QUESTIONS = tuple(
    q.strip()
    for q in (
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
        "Employee No., Date of Hire, Grade, Salary, Copies To, Distribution, Comments, Notes, Other"
    ).split(",")
)
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
    "days memo letter report summary minutes agenda budget forecast estimate actual variance"
).split()
FAX_WORDS = ("FAX TRANSMITTAL FACSIMILE COVER SHEET TELECOPY MEMORANDUM ROUTING SLIP").split()
STAMPS = ("RECEIVED CONFIDENTIAL APPROVED COPY FILE URGENT DRAFT PAID VOID ORIGINAL DUPLICATE").split()
