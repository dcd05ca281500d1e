"""Country of an IP address: an offline database shipped in a package (``iptocc``), or a
MaxMind/DB-IP ``.mmdb`` file when one is configured."""

from __future__ import annotations

import functools
import ipaddress
from pathlib import Path
from typing import Any, Protocol

import iptocc
import maxminddb

from pipeline.errors import ConfigError


class GeoLookup(Protocol):
    def country(self, ip: str) -> str | None: ...


class IptoccLookup:
    """Bundled RIR delegation data; no file to manage. Answers are cached per address (the
    same clients come back all the time; the parse and the range search cost ~5 µs)."""

    def __init__(self, cache_size: int = 65_536) -> None:
        self._cached = functools.lru_cache(maxsize=cache_size)(_iptocc_country)

    def country(self, ip: str) -> str | None:
        return self._cached(ip)


def _iptocc_country(ip: str) -> str | None:
    try:
        ipaddress.ip_address(ip)
    except ValueError:
        return None
    code = iptocc.country_code(ip)
    return code if isinstance(code, str) else None


class MmdbLookup:
    """A MaxMind GeoIP2/GeoLite2 or DB-IP country database."""

    def __init__(self, path: Path) -> None:
        if not path.is_file():
            raise ConfigError(f"geo database {path} not found")
        try:
            self._reader: Any = maxminddb.open_database(str(path))
        except (maxminddb.InvalidDatabaseError, OSError, ValueError):
            raise ConfigError(f"geo database {path} is not a MaxMind DB (.mmdb) file") from None

    def country(self, ip: str) -> str | None:
        try:
            record = self._reader.get(ip)
        except ValueError:
            return None
        if not isinstance(record, dict):
            return None
        country = record.get("country") or record.get("registered_country") or {}
        code = country.get("iso_code") if isinstance(country, dict) else None
        return code if isinstance(code, str) else None
