"""Turn the CDNOW purchase file into a legacy shop's SQLite database.

CDNOW gives only a customer number, a date, a number of CDs and an amount in
US dollars per purchase. This module invents the rest of a small shop's
records for each customer number: a Spanish-speaking name, an e-mail address
on the reserved domain ``example.com``, a mobile phone number, a city in
Spain or Latin America, and a consent history for e-mail and phone. Every
invented value comes from ``random.Random(f"{seed}:{customer number}")``, so
a customer gets the same record from the master file and from the sample,
and rebuilding the database gives the same file.

Dates are shifted by whole weeks so that the most recent purchase of the file
falls in the week before the build day, on its original weekday.
"""

import datetime
import random
import sqlite3
import unicodedata
from collections import namedtuple
from decimal import Decimal
from pathlib import Path

Purchase = namedtuple("Purchase", "customer_no sample_id date cds amount")

DEFAULT_SEED = 1997
FORMAT_VERSION = "1"

# Share of customers per country, with the cities they are drawn from, the
# language their Odoo contact gets and a generator of valid mobile numbers.
COUNTRIES = [
    (
        "ES",
        0.45,
        "es_ES",
        ["Madrid", "Barcelona", "Valencia", "Sevilla", "Zaragoza", "Málaga", "Bilbao"],
        lambda rng: (
            f"+34 6{rng.randint(0, 99):02d} {rng.randint(0, 999):03d} "
            f"{rng.randint(0, 999):03d}"
        ),
    ),
    (
        "MX",
        0.20,
        "es_419",
        ["Ciudad de México", "Guadalajara", "Monterrey", "Puebla", "Mérida"],
        lambda rng: f"+52 55 {rng.randint(1000, 9999)} {rng.randint(1000, 9999)}",
    ),
    (
        "AR",
        0.10,
        "es_419",
        ["Buenos Aires", "Córdoba", "Rosario", "Mendoza"],
        lambda rng: f"+54 9 11 {rng.randint(2000, 6999)} {rng.randint(1000, 9999)}",
    ),
    (
        "CO",
        0.10,
        "es_419",
        ["Bogotá", "Medellín", "Cali", "Barranquilla"],
        lambda rng: (
            f"+57 3{rng.randint(0, 2)}{rng.randint(0, 9)} "
            f"{rng.randint(200, 999)} {rng.randint(1000, 9999)}"
        ),
    ),
    (
        "CL",
        0.08,
        "es_419",
        ["Santiago", "Valparaíso", "Concepción"],
        lambda rng: f"+56 9 {rng.randint(4000, 9999)} {rng.randint(1000, 9999)}",
    ),
    (
        "PE",
        0.07,
        "es_419",
        ["Lima", "Arequipa", "Trujillo", "Cusco"],
        lambda rng: (
            f"+51 9{rng.randint(10, 99)} {rng.randint(100, 999)} "
            f"{rng.randint(100, 999)}"
        ),
    ),
]

FIRST_NAMES = [
    "Lucía", "María", "Carmen", "Sofía", "Valentina", "Camila", "Isabel", "Elena",
    "Paula", "Daniela", "Ana", "Laura", "Martina", "Julia", "Gabriela", "Rosa",
    "Hugo", "Martín", "Pablo", "Alejandro", "Mateo", "Santiago", "Diego", "Javier",
    "Carlos", "Andrés", "Juan", "Sebastián", "Nicolás", "Manuel", "Tomás", "Luis",
]  # fmt: skip
LAST_NAMES = [
    "García", "Rodríguez", "González", "Fernández", "López", "Martínez", "Sánchez",
    "Pérez", "Gómez", "Martín", "Jiménez", "Ruiz", "Hernández", "Díaz", "Moreno",
    "Muñoz", "Álvarez", "Romero", "Torres", "Ramírez", "Flores", "Castro",
    "Vargas", "Rojas", "Herrera", "Medina", "Aguilar", "Ortega", "Silva", "Navarro",
]  # fmt: skip

# Marketing consent histories, with the share of customers who get each. A
# history is a list of states. The first state is recorded on the day of the
# first purchase, and a change of mind comes later.
EMAIL_HISTORIES = [
    (("granted",), 0.45),
    (("granted", "refused"), 0.15),
    (("refused",), 0.10),
    (("refused", "granted"), 0.05),
    ((), 0.25),  # never answered
]
PHONE_HISTORIES = [
    (("granted",), 0.25),
    (("refused",), 0.10),
    ((), 0.65),
]

IMPORT_QUERY = """
SELECT c.customer_no, c.name, c.email, c.phone, c.city, c.country, c.lang,
       o.order_no, o.order_date, o.amount,
       NULL AS channel, NULL AS consent_state, NULL AS answered_on
  FROM orders o
  JOIN customers c ON c.customer_no = o.customer_no
UNION ALL
SELECT c.customer_no, c.name, c.email, c.phone, c.city, c.country, c.lang,
       NULL, NULL, NULL,
       k.channel, k.state, k.answered_on
  FROM consents k
  JOIN customers c ON c.customer_no = k.customer_no
 ORDER BY 1, 8, 13
""".strip()

# Column of the query -> target of the crm.legacy.source mapping.
IMPORT_MAPPING = {
    "customer_no": "partner_ref",
    "name": "partner_name",
    "email": "partner_email",
    "phone": "partner_phone",
    "city": "partner_city",
    "country": "partner_country",
    "lang": "partner_lang",
    "order_no": "txn_ref",
    "order_date": "txn_date",
    "amount": "txn_amount",
    "channel": "consent_channel",
    "consent_state": "consent_state",
    "answered_on": "consent_date",
}


def read_purchases(path):
    """Read a CDNOW file into a list of ``Purchase``.

    ``CDNOW_master.txt`` has four columns (customer, yyyymmdd date, CDs,
    dollars) and a header line; ``CDNOW_sample.txt`` has five (customer,
    sample id, date, CDs, dollars) and none.
    """
    purchases = []
    with open(path, encoding="ascii") as handle:
        for number, line in enumerate(handle, start=1):
            fields = line.split()
            if not fields or not fields[0].isdigit():
                continue
            if len(fields) == 5:
                customer, sample_id, day, cds, dollars = fields
            elif len(fields) == 4:
                customer, day, cds, dollars = fields
                sample_id = None
            else:
                raise ValueError(
                    f"{path}, line {number}: expected 4 or 5 columns, got {len(fields)}."
                )
            purchases.append(
                Purchase(
                    customer,
                    int(sample_id) if sample_id else None,
                    datetime.datetime.strptime(day, "%Y%m%d").date(),
                    int(cds),
                    Decimal(dollars),
                )
            )
    if not purchases:
        raise ValueError(f"{path} contains no purchase.")
    return purchases


def compute_shift_days(purchases, build_day):
    """Return the whole weeks, in days, that move the latest purchase into
    the week before ``build_day``."""
    latest = max(purchase.date for purchase in purchases)
    gap = (build_day - datetime.timedelta(days=1) - latest).days
    return gap // 7 * 7


def _pick(rng, weighted):
    roll = rng.random()
    total = 0.0
    for value, weight in weighted:
        total += weight
        if roll < total:
            return value
    return weighted[-1][0]


def _ascii(text):
    text = unicodedata.normalize("NFKD", text)
    return "".join(char for char in text if not unicodedata.combining(char)).lower()


def _valid_phone(number, country):
    try:
        import phonenumbers
    except ImportError:
        return True
    try:
        parsed = phonenumbers.parse(number, country)
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.is_valid_number(parsed)


def invent_customer(seed, customer_no, first_day, latest_day):
    """Return the invented record and consent events of one customer.

    ``first_day`` is the customer's first purchase (shifted), when the first
    consent answer is given; a change of mind comes 30 to 180 days later, and
    is dropped when that is after ``latest_day``, the latest purchase of the
    whole file, so that no answer is dated in the future.
    """
    rng = random.Random(f"{seed}:{customer_no}")
    code, _weight, lang, cities, make_phone = _pick(
        rng, [(country, country[1]) for country in COUNTRIES]
    )
    first = rng.choice(FIRST_NAMES)
    last = rng.choice(LAST_NAMES)
    second_last = rng.choice(LAST_NAMES)
    phone = make_phone(rng)
    for _attempt in range(20):
        if _valid_phone(phone, code):
            break
        phone = make_phone(rng)
    customer = {
        "customer_no": customer_no,
        "name": f"{first} {last} {second_last}",
        "email": f"{_ascii(first)}.{_ascii(last)}.{int(customer_no)}@example.com",
        "phone": phone,
        "city": rng.choice(cities),
        "country": code,
        "lang": lang,
    }
    events = []
    for channel, histories in (("email", EMAIL_HISTORIES), ("phone", PHONE_HISTORIES)):
        history = _pick(rng, histories)
        day = first_day
        for position, state in enumerate(history):
            if position:
                day = day + datetime.timedelta(days=rng.randint(30, 180))
                if day > latest_day:
                    break
            events.append((customer_no, channel, state, day))
    return customer, events


def build_shop_database(path, purchases, seed, shift_days):
    """Write the shop's SQLite database at ``path`` and return its counts.

    Tables: ``customers`` (customer_no, name, email, phone, city, country,
    lang), ``orders`` (order_no, customer_no, order_date, cds, amount) and
    ``consents`` (customer_no, channel, state, answered_on), plus
    ``shop_info`` with the seed and the date shift. Dates are ISO strings.
    Order numbers are ``<customer>-<n>``, numbering each customer's purchases
    in file order, so that re-imports find the same references.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".part")
    partial.unlink(missing_ok=True)
    shift = datetime.timedelta(days=shift_days)

    by_customer = {}
    for purchase in purchases:
        by_customer.setdefault(purchase.customer_no, []).append(purchase)

    connection = sqlite3.connect(partial)
    try:
        connection.executescript(
            """
            CREATE TABLE shop_info (key TEXT PRIMARY KEY, value TEXT NOT NULL);
            CREATE TABLE customers (
                customer_no TEXT PRIMARY KEY, name TEXT NOT NULL, email TEXT,
                phone TEXT, city TEXT, country TEXT, lang TEXT
            );
            CREATE TABLE orders (
                order_no TEXT PRIMARY KEY,
                customer_no TEXT NOT NULL REFERENCES customers(customer_no),
                order_date TEXT NOT NULL, cds INTEGER NOT NULL, amount REAL NOT NULL
            );
            CREATE TABLE consents (
                customer_no TEXT NOT NULL REFERENCES customers(customer_no),
                channel TEXT NOT NULL, state TEXT NOT NULL, answered_on TEXT NOT NULL
            );
            """
        )
        customers, orders, consents = [], [], []
        latest_day = max(purchase.date for purchase in purchases) + shift
        for customer_no, rows in sorted(by_customer.items()):
            first_day = min(row.date for row in rows) + shift
            customer, events = invent_customer(seed, customer_no, first_day, latest_day)
            customers.append(customer)
            for position, row in enumerate(rows, start=1):
                orders.append(
                    (
                        f"{customer_no}-{position:03d}",
                        customer_no,
                        (row.date + shift).isoformat(),
                        row.cds,
                        float(row.amount),
                    )
                )
            consents.extend(
                (number, channel, state, day.isoformat())
                for number, channel, state, day in events
            )
        connection.executemany(
            "INSERT INTO customers VALUES (:customer_no, :name, :email, :phone,"
            " :city, :country, :lang)",
            customers,
        )
        connection.executemany("INSERT INTO orders VALUES (?, ?, ?, ?, ?)", orders)
        connection.executemany("INSERT INTO consents VALUES (?, ?, ?, ?)", consents)
        connection.executemany(
            "INSERT INTO shop_info VALUES (?, ?)",
            [
                ("format_version", FORMAT_VERSION),
                ("seed", str(seed)),
                ("shift_days", str(shift_days)),
                ("purchases", str(len(purchases))),
            ],
        )
        connection.commit()
    finally:
        connection.close()
    partial.replace(path)
    return {
        "customers": len(customers),
        "orders": len(orders),
        "consents": len(consents),
    }


def read_shop_info(path):
    """Return the ``shop_info`` table of an existing shop database as a dict,
    or an empty dict when the file is missing or not such a database."""
    if not Path(path).is_file():
        return {}
    try:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return dict(connection.execute("SELECT key, value FROM shop_info"))
        finally:
            connection.close()
    except sqlite3.Error:
        return {}


def read_consent_histories(path):
    """Return ``{(customer_no, channel): [(answered_on, state), ...]}`` sorted
    by date, read from the shop database."""
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        histories = {}
        for customer_no, channel, state, day in connection.execute(
            "SELECT customer_no, channel, state, answered_on FROM consents"
            " ORDER BY customer_no, channel, answered_on"
        ):
            histories.setdefault((customer_no, channel), []).append(
                (datetime.date.fromisoformat(day), state)
            )
        return histories
    finally:
        connection.close()
