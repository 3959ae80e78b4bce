#!/usr/bin/env python3
"""The independent oracle of test_schedule.c: next fire times of cron schedules in IANA time
zones, computed by brute force with Python's zoneinfo (the system tz database, as dagflow reads
it) and a cron matcher of its own, following SPEC §9's DST rules literally:

- unrestricted hour field (starts with '*'): every real instant whose wall-clock time matches;
- restricted hour field: a matching wall-clock time that exists fires at its first occurrence;
  one skipped by a forward change fires at the first instant after the gap (several in one gap
  fire once, together).

It enumerates each local day's matching wall-clock times and asks zoneinfo for their instants
(fold 0 and 1, kept only when they round-trip), so it shares no code or method with the engine's
timeline walk (engine/schedule.c). Output, one case a line, tab-separated:
    CRON  ZONE  AFTER_UTC  FIRE_UTC,FIRE_UTC,...
Usage: schedule_oracle.py > tests/data/schedule_oracle.tsv (the checked-in table; the e2e test
test_schedule_oracle.sh regenerates it at test time and runs test_schedule on the fresh one)."""
import datetime as dt
import sys
from zoneinfo import ZoneInfo

UTC = dt.timezone.utc
MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]
MACROS = {"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
          "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *",
          "@hourly": "0 * * * *"}


def value(text, names, base):
    if text.upper() in names:
        return names.index(text.upper()) + base
    return int(text)


def field(text, lo, hi, names=(), base=0):
    out = set()
    for item in text.split(","):
        rng, _, step = item.partition("/")
        step = int(step) if step else 1
        if rng == "*":
            a, b = lo, hi
        elif "-" in rng:
            a, b = (value(x, names, base) for x in rng.split("-"))
        else:
            a = b = value(rng, names, base)
        out.update(range(a, b + 1, step))
    return out


class Cron:
    def __init__(self, expr):
        expr = MACROS.get(expr, expr)
        f = expr.split()
        if len(f) == 5:
            f = ["0"] + f
        self.sec = sorted(field(f[0], 0, 59))
        self.min = sorted(field(f[1], 0, 59))
        self.hour = sorted(field(f[2], 0, 23))
        self.dom = field(f[3], 1, 31)
        self.mon = field(f[4], 1, 12, MONTHS, 1)
        self.dow = {d % 7 for d in field(f[5], 0, 6, DAYS, 0)}
        self.dom_star, self.dow_star = f[3].startswith("*"), f[5].startswith("*")
        self.hour_star = f[2].startswith("*")

    def day(self, d):
        if d.month not in self.mon:
            return False
        a, b = d.day in self.dom, (d.isoweekday() % 7) in self.dow
        return (a or b) if not (self.dom_star or self.dow_star) else (a and b)


def instants(local, zone):
    """The instants whose wall-clock time is `local` (0, 1 or 2 of them), oldest first."""
    out = []
    for fold in (0, 1):
        u = local.replace(tzinfo=zone, fold=fold).astimezone(UTC)
        if u.astimezone(zone).replace(tzinfo=None) == local and u not in out:
            out.append(u)
    return sorted(out)


def gap_end(local, zone):
    """For a wall-clock time skipped by a forward change: the first instant after the gap."""
    a = local.replace(tzinfo=zone, fold=1).astimezone(UTC)  # before the change
    b = local.replace(tzinfo=zone, fold=0).astimezone(UTC)  # after it
    a, b = min(a, b), max(a, b)
    while (b - a).total_seconds() > 1:
        m = a + (b - a) / 2
        m = m.replace(microsecond=0)
        if m.astimezone(zone).replace(tzinfo=None) > local:
            b = m
        else:
            a = m
    return b


def fire_times(expr, zone_name, after, count):
    cron, zone = Cron(expr), ZoneInfo(zone_name)
    day = (after.astimezone(zone) - dt.timedelta(days=2)).date()
    found, extra = set(), None
    for _ in range(366 * 40):
        if cron.day(day):
            for h in cron.hour:
                for m in cron.min:
                    for s in cron.sec:
                        local = dt.datetime(day.year, day.month, day.day, h, m, s)
                        got = instants(local, zone)
                        if not cron.hour_star:
                            got = got[:1] if got else [gap_end(local, zone)]
                        found.update(u for u in got if u > after)
        if extra is not None:
            extra -= 1
            if extra == 0:
                break
        elif len(found) >= count:
            extra = 3  # instants of later local days can still come first: look 3 days more
        day += dt.timedelta(days=1)
    return sorted(found)[:count]


def iso(u):
    return u.strftime("%Y-%m-%dT%H:%M:%SZ")


def changes(zone_name, year):
    """The instants (to the hour before) of the zone's offset changes in a year."""
    zone, out = ZoneInfo(zone_name), []
    t = dt.datetime(year, 1, 1, tzinfo=UTC)
    prev = t.astimezone(zone).utcoffset()
    while t.year == year:
        t2 = t + dt.timedelta(hours=1)
        off = t2.astimezone(zone).utcoffset()
        if off != prev:
            out.append(t)
            prev = off
        t = t2
    return out


ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Europe/London",
         "Asia/Kolkata"]
CRONS = ["*/15 * * * *", "30 2 * * *", "0 9 * * MON-FRI", "0 0 31 * *", "0 0 29 2 MON",
         "30 1 * * *", "0 * * * *", "30 * * * *", "0,30 2 * * *", "15 2,3 * * *", "@weekly",
         "0 */2 * * *", "0 0 1 */3 *", "45 23 * * 5-7", "*/20 * 2 * * *", "0 30 1 * * *",
         "0 0 12 29 2 *", "5 4 1,15 * WED", "@hourly", "0 12 * JAN,JUL SUN", "0 0 29 2 *",
         "59 23 31 12 *", "*/7 1-3 * * *"]


def main():
    afters = []
    for year in (2026, 2027):
        afters.append(dt.datetime(year, 1, 1, tzinfo=UTC))
        afters.append(dt.datetime(year, 6, 15, 13, 7, 11, tzinfo=UTC))
    for zone in ZONES:
        cases = list(afters)
        for year in (2026, 2027):
            for c in changes(zone, year):
                for back in (dt.timedelta(days=1), dt.timedelta(hours=3), dt.timedelta(minutes=30)):
                    cases.append(c - back)
        for expr in CRONS:
            rare = " 29 2 " in expr
            for after in cases:
                times = fire_times(expr, zone, after, 3 if rare else 8)
                print("\t".join([expr, zone, iso(after), ",".join(iso(u) for u in times)]))


if __name__ == "__main__":
    sys.exit(main())
