#!/usr/bin/python3
"""Converts the UCI "Online Retail" data set into a rerank interaction log.

Input: online_retail.csv(.gz) with the columns
  InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country
Output: a CSV (gzipped when the name ends in .gz) with the header
  user_id,item_id,event_type,timestamp
that rerank-train reads. Python 3 standard library only.

Rules (also in data/online-retail/README.md):
  * user_id = CustomerID as an integer string ("17850.0" -> "17850").
    Rows without a CustomerID (guest checkouts) are dropped: they cannot be
    tied to a user.
  * item_id = StockCode, upper-cased. Only product codes are kept: five
    digits plus an optional letter suffix (85123A, 15056BL). Postage (POST,
    DOT, C2), manual entries (M), discounts (D), samples (S), fees (AMAZONFEE,
    BANK CHARGES, CRUK), bad-debt adjustments (B), gift vouchers (gift_*),
    PADS and the DCGS* marketplace codes are dropped.
  * Each (invoice, customer, stock code) becomes one `purchase` event (lines
    repeating a product within an invoice are merged) at the invoice's
    InvoiceDate, written as ISO 8601 without a zone ("2010-12-01T08:26:00");
    the data set's clock is the retailer's local (UK) time and rerank-train
    reads zone-less times as UTC, which only matters for absolute times.
  * Lines with Quantity <= 0 that are not cancellations are dropped (stock
    adjustments).
  * Cancellations (InvoiceNo starting with "C") are netted out: each one
    takes its quantity back from the same customer's purchases of the same
    stock code made at or before the cancellation, most recent first; a
    purchase whose whole quantity is taken back disappears. A cancellation
    with nothing to take back (its purchase predates the data) is ignored.
    The events carry no weight column: a partially cancelled purchase still
    counts once.
  * Sampling (--user_fraction / --max_users / --start_date / --end_date) is
    applied after netting, so that it never separates a purchase from its
    cancellation. User sampling keeps whole customers (all their events).
  * Events are sorted by time, then invoice, then first line in the file.

--categories_out writes item_id,category where the category is a HEURISTIC
(the data set has none): the last word of the product's most frequent
description that is not a colour, size, pattern or filler word, singularised
when the singular also occurs ("T-LIGHT HOLDER" -> holder, "RED RETROSPOT
JUMBO BAG" -> bag). Categories shared by fewer than --min_category_items
products are left out (those products have no category).

The gzip output is byte-reproducible (no file name or time in its header).
"""

import argparse
import collections
import csv
import datetime
import gzip
import io
import random
import re
import sys

PRODUCT_CODE = re.compile(r"^[0-9]{5}[A-Z]{0,2}$")

# Words that describe a product's look rather than what it is.
NON_CATEGORY_WORDS = frozenset("""
    A AN AND THE OF WITH IN ON TO FOR NO SET SETS PACK PCS PIECE DESIGN DESIGNS
    ASSORTED COLOUR COLOURS COLOURED SIZE SMALL LARGE MEDIUM MINI JUMBO BIG
    GIANT TINY RED PINK BLUE GREEN WHITE BLACK CREAM GOLD SILVER IVORY PURPLE
    ORANGE YELLOW BROWN GREY GRAY NATURAL CLEAR PASTEL BRIGHT TURQUOISE LILAC
    RETROSPOT POLKADOT POLKA DOT DOTS SPOT SPOTS SPOTTY PAISLEY SPACEBOY
    SKULL SKULLS GIRL DOLLY LONDON WOODLAND EDWARDIAN VINTAGE FLORAL STRIPE
    STRIPES STRIPED GINGHAM REGENCY BAROQUE ANTIQUE RETRO ROSES TIER FINISH CM
""".split())


def parse_args(argv):
    p = argparse.ArgumentParser(
        description="Online Retail -> rerank interaction log",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--input", required=True,
                   help="online_retail.csv or .csv.gz")
    p.add_argument("--output", required=True,
                   help="interaction log to write (.gz => gzipped)")
    p.add_argument("--categories_out", default="",
                   help="also write item_id,category (heuristic) here")
    p.add_argument("--min_category_items", type=int, default=5,
                   help="drop categories with fewer products than this")
    p.add_argument("--user_fraction", type=float, default=1.0,
                   help="keep this random fraction of customers")
    p.add_argument("--max_users", type=int, default=0,
                   help="keep at most this many random customers (0: all)")
    p.add_argument("--seed", type=int, default=42,
                   help="seed of the customer sample")
    p.add_argument("--start_date", default="",
                   help="keep events at or after this date (YYYY-MM-DD)")
    p.add_argument("--end_date", default="",
                   help="keep events before this date (YYYY-MM-DD)")
    args = p.parse_args(argv)
    if not 0.0 < args.user_fraction <= 1.0:
        p.error("--user_fraction must be in (0, 1]")
    for name in ("start_date", "end_date"):
        value = getattr(args, name)
        if value:
            try:
                datetime.date.fromisoformat(value)
            except ValueError:
                p.error(f"--{name} must be YYYY-MM-DD, got {value!r}")
    return args


def open_text(path, mode):
    if path.endswith(".gz"):
        if "w" in mode:
            # filename="" and mtime=0 keep the output byte-reproducible.
            raw = open(path, "wb")
            gz = gzip.GzipFile(filename="", mode="wb", fileobj=raw,
                               compresslevel=9, mtime=0)
            return _ClosingTextWrapper(gz, raw)
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8",
                                newline="")
    return open(path, mode, encoding="utf-8", newline="")


class _ClosingTextWrapper(io.TextIOWrapper):
    """A text stream over a GzipFile that also closes the underlying file."""

    def __init__(self, gz, raw):
        super().__init__(gz, encoding="utf-8", newline="")
        self._raw = raw

    def close(self):
        super().close()
        self._raw.close()


def customer_id(text):
    text = text.strip()
    if not text:
        return None
    return str(int(float(text)))


def iso_time(text):
    # "2010-12-01 08:26:00" -> "2010-12-01T08:26:00"; validates the format.
    return datetime.datetime.fromisoformat(text.strip()).isoformat(
        timespec="seconds")


class Purchase:
    __slots__ = ("invoice", "user", "item", "time", "quantity", "line")

    def __init__(self, invoice, user, item, time, quantity, line):
        self.invoice = invoice
        self.user = user
        self.item = item
        self.time = time
        self.quantity = quantity
        self.line = line


def category_of(description, vocabulary):
    words = [w for w in re.findall(r"[A-Z]+", description.upper())
             if len(w) >= 3 and w not in NON_CATEGORY_WORDS]
    if not words:
        return ""
    word = words[-1]
    # Singularise when the singular is itself a product's last word.
    # "S" first: CANDLES -> CANDLE even though a truncated "CANDL" exists.
    if word.endswith("S") and word[:-1] in vocabulary:
        word = word[:-1]
    elif word.endswith("ES") and word[:-2] in vocabulary:
        word = word[:-2]
    return word.lower()


def last_word(description):
    words = [w for w in re.findall(r"[A-Z]+", description.upper())
             if len(w) >= 3 and w not in NON_CATEGORY_WORDS]
    return words[-1] if words else ""


def main(argv):
    args = parse_args(argv)
    stats = collections.Counter()
    purchases = {}  # (invoice, user, item) -> Purchase
    cancellations = []  # (time, line, user, item, quantity)
    descriptions = collections.defaultdict(collections.Counter)

    with open_text(args.input, "r") as f:
        reader = csv.DictReader(f)
        expected = {"InvoiceNo", "StockCode", "Description", "Quantity",
                    "InvoiceDate", "CustomerID"}
        missing = expected - set(reader.fieldnames or [])
        if missing:
            sys.exit(f"{args.input}: missing columns {sorted(missing)}")
        for row in reader:
            line = reader.line_num
            stats["rows"] += 1
            user = customer_id(row["CustomerID"])
            if user is None:
                stats["dropped: no CustomerID"] += 1
                continue
            item = row["StockCode"].strip().upper()
            if not PRODUCT_CODE.match(item):
                stats["dropped: non-product stock code"] += 1
                continue
            invoice = row["InvoiceNo"].strip()
            quantity = int(row["Quantity"])
            time = iso_time(row["InvoiceDate"])
            if invoice.startswith("C"):
                stats["cancellation rows"] += 1
                cancellations.append((time, line, user, item, abs(quantity)))
                continue
            if quantity <= 0:
                stats["dropped: quantity <= 0"] += 1
                continue
            descriptions[item][row["Description"].strip()] += 1
            key = (invoice, user, item)
            p = purchases.get(key)
            if p is None:
                purchases[key] = Purchase(invoice, user, item, time, quantity,
                                          line)
            else:
                stats["merged: repeated product line in invoice"] += 1
                p.quantity += quantity

    # Net cancellations against earlier purchases, most recent first.
    by_pair = collections.defaultdict(list)
    for p in purchases.values():
        by_pair[(p.user, p.item)].append(p)
    for plist in by_pair.values():
        plist.sort(key=lambda p: (p.time, p.line))
    cancellations.sort()
    for time, _, user, item, quantity in cancellations:
        left = quantity
        for p in reversed(by_pair.get((user, item), [])):
            if left == 0:
                break
            if p.time > time or p.quantity == 0:
                continue
            taken = min(left, p.quantity)
            p.quantity -= taken
            left -= taken
        if left == quantity:
            stats["cancellations without an earlier purchase"] += 1
    events = [p for p in purchases.values() if p.quantity > 0]
    stats["purchase lines removed by cancellations"] = (
        len(purchases) - len(events))

    # Sampling, after netting.
    if args.start_date:
        events = [p for p in events if p.time >= args.start_date]
    if args.end_date:
        events = [p for p in events if p.time < args.end_date]
    users = sorted({p.user for p in events}, key=int)
    keep = users
    if args.user_fraction < 1.0 or args.max_users > 0:
        rng = random.Random(args.seed)
        shuffled = users[:]
        rng.shuffle(shuffled)
        count = int(round(len(users) * args.user_fraction))
        if args.max_users > 0:
            count = min(count, args.max_users)
        keep = set(shuffled[:count])
        events = [p for p in events if p.user in keep]
    events.sort(key=lambda p: (p.time, p.invoice, p.line))

    with open_text(args.output, "w") as out:
        w = csv.writer(out, lineterminator="\n")
        w.writerow(["user_id", "item_id", "event_type", "timestamp"])
        for p in events:
            w.writerow([p.user, p.item, "purchase", p.time])

    items = sorted({p.item for p in events})
    if args.categories_out:
        # Most frequent description of each product; ties -> smallest text.
        chosen = {}
        for item in items:
            counts = descriptions[item]
            chosen[item] = min(counts, key=lambda d: (-counts[d], d))
        vocabulary = {last_word(d) for d in chosen.values()}
        category = {item: category_of(d, vocabulary)
                    for item, d in chosen.items()}
        sizes = collections.Counter(c for c in category.values() if c)
        with open_text(args.categories_out, "w") as out:
            w = csv.writer(out, lineterminator="\n")
            w.writerow(["item_id", "category"])
            written = 0
            for item in items:
                c = category[item]
                if c and sizes[c] >= args.min_category_items:
                    w.writerow([item, c])
                    written += 1
        kept = sum(1 for c, n in sizes.items()
                   if n >= args.min_category_items)
        print(f"categories: {written} of {len(items)} items in {kept} "
              f"categories", file=sys.stderr)

    for key in sorted(stats):
        print(f"{key}: {stats[key]}", file=sys.stderr)
    print(f"events: {len(events)}, users: {len({p.user for p in events})}, "
          f"items: {len(items)}", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:])
