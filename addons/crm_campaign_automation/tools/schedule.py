"""Time-zone arithmetic of campaign schedules.

Datetimes stored by Odoo are naive UTC. These helpers convert a local day and
hour in a named time zone to naive UTC, with pytz so that daylight saving time
of each date is applied (Europe/Madrid is UTC+2 in summer, UTC+1 in winter).
"""

from datetime import datetime, time, timedelta

import pytz


def _get_timezone(tz_name):
    try:
        return pytz.timezone(tz_name or "UTC")
    except pytz.UnknownTimeZoneError:
        return pytz.utc


def _hour_to_time(hour):
    minutes = round((hour or 0.0) * 60)
    minutes = min(max(minutes, 0), 24 * 60 - 1)
    return time(minutes // 60, minutes % 60)


def local_to_utc(day, hour, tz_name):
    """Return the naive UTC datetime of ``hour`` on ``day`` in ``tz_name``.

    ``hour`` is a float (9.5 is 09:30). An unknown or empty zone is read as UTC.
    """
    timezone = _get_timezone(tz_name)
    local = timezone.localize(datetime.combine(day, _hour_to_time(hour)))
    return local.astimezone(pytz.utc).replace(tzinfo=None)


def utc_to_local(moment, tz_name):
    """Return the naive local datetime of the naive UTC datetime ``moment``."""
    timezone = _get_timezone(tz_name)
    return pytz.utc.localize(moment).astimezone(timezone).replace(tzinfo=None)


def next_allowed_moment(moment, tz_name, hour_from, hour_to, weekdays):
    """Return the first naive UTC datetime at or after ``moment`` that falls on an
    allowed weekday (Monday is 0) between ``hour_from`` and ``hour_to`` local time.

    Returns ``moment`` itself when it is allowed, and ``moment`` as well when no
    weekday is allowed or the hour window is empty, so that a misconfigured
    company delays nothing rather than everything forever.
    """
    if not weekdays or hour_to <= hour_from:
        return moment
    local = utc_to_local(moment, tz_name)
    start = _hour_to_time(hour_from)
    end = _hour_to_time(hour_to)
    for offset in range(8):
        day = local.date() + timedelta(days=offset)
        if day.weekday() not in weekdays:
            continue
        if offset == 0:
            if start <= local.time() < end:
                return moment
            if local.time() >= end:
                continue
        return local_to_utc(day, hour_from, tz_name)
    return moment
