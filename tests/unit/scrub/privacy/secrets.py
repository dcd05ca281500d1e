"""Secrets in the shapes they are written in: connection strings, cookie headers, provider
keys, URL userinfo with awkward passwords, values after secret-named keys. Every shape is
generated (key names x separators x quoting x value alphabets x surrounding text)."""

from __future__ import annotations

import base64
import random
import re
import string

from tests.unit.scrub.privacy.labelled import Item, Maker, Text, one

ALNUM = string.ascii_letters + string.digits
B64 = ALNUM + "+/"
PUNCT = "!#$%&()*+-./:;<=>?@[]^_{|}~,"
_NEXT_PAIR = re.compile(r"[&,;][A-Za-z_]")


def _pick(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def bare_value(rng: random.Random, first: str | None = None) -> str:
    """A password as people choose them: letters, digits and any punctuation, unquoted (no
    blank or quote; no ``&x``/``;x``/``,x`` that reads as the next name=value pair; no
    separator at the end, where it reads as punctuation of the sentence)."""
    while True:
        head = first if first is not None else rng.choice(ALNUM + PUNCT)
        value = head + _pick(rng, ALNUM * 3 + PUNCT, rng.randint(7, 30))
        if not _NEXT_PAIR.search(value) and value[-1] not in "&,;.)]}>":
            return value


def quoted_value(rng: random.Random) -> str:
    return _pick(rng, ALNUM * 3 + PUNCT + " ", rng.randint(8, 30)).strip() or "x!y"


def b64_key(rng: random.Random, nbytes: int) -> str:
    return base64.b64encode(rng.randbytes(nbytes)).decode()


SURROUND = [
    ("", ""),
    ("config loaded: ", " (source=env)"),
    ("ERROR connecting with ", "\nretrying in 5s"),
    ("[2026-11-02T08:15:00Z] DEBUG ", " status=ok"),
    ("Webhook <", "> rejected"),
    ("value='", "', retries=3"),
    ("{", "}"),
    ("Fehler: ", " ist ungültig"),
    ("erreur : ", " ; nouvelle tentative"),
]


def _wrap(rng: random.Random, t: Text, build: Text) -> Item:
    pre, post = rng.choice(SURROUND)
    t.add(pre)
    t.parts.extend(build.parts)
    offset = len(pre)
    for lb in build.labels:
        t.labels.append(
            type(lb)(lb.kind, lb.group, lb.value, t.key, lb.start + offset, lb.end + offset)
        )
    t.add(post)
    return Item([t])


def _frag(*pieces: tuple[str, str | None]) -> Text:
    """Pieces of (text, kind or None): kind marks the secret value."""
    b = Text()
    for text, kind in pieces:
        if kind is None:
            b.add(text)
        else:
            b.value(kind, "secret", text)
    return b


# --- connection strings ------------------------------------------------------------------


def connection_string(rng: random.Random) -> Item:
    _item, t = one(rng.choice(["note", "config", "error"]))
    shape = rng.randrange(6)
    if shape == 0:
        key = b64_key(rng, 64)
        b = _frag(
            (
                f"DefaultEndpointsProtocol=https;AccountName=acct{rng.randint(1, 999)};AccountKey=",
                None,
            ),
            (key, "connection_string"),
            (";EndpointSuffix=core.windows.net", None),
        )
    elif shape == 1:
        key = b64_key(rng, 32)
        b = _frag(
            (
                "Endpoint=sb://bus-prod.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=",
                None,
            ),
            (key, "connection_string"),
        )
    elif shape == 2:
        pw = bare_value(rng)
        b = _frag(
            (
                f"Server=tcp:sql{rng.randint(1, 9)}.example.net,1433;Initial Catalog=app;"
                f"User ID=sa;{rng.choice(['Password', 'Pwd', 'password'])}=",
                None,
            ),
            (pw, "connection_string"),
            (";Encrypt=True;", None),
        )
    elif shape == 3:
        key = b64_key(rng, 64)
        b = _frag(
            (
                '"ConnectionStrings": {"Storage": "DefaultEndpointsProtocol=https;'
                "AccountName=x;AccountKey=",
                None,
            ),
            (key, "connection_string"),
            ('"}', None),
        )
    elif shape == 4:
        key = b64_key(rng, 64)
        b = _frag(
            (
                "AZURE_STORAGE_CONNECTION_STRING=BlobEndpoint=https://x.blob.core.windows.net/;AccountName=x;AccountKey=",
                None,
            ),
            (key, "connection_string"),
        )
    else:
        pw = bare_value(rng)
        b = _frag(
            (f"Host=db{rng.randint(1, 9)};Port=5432;Username=app;Password=", None),
            (pw, "connection_string"),
            (";SSL Mode=Require", None),
        )
    return _wrap(rng, t, b)


# --- cookies -------------------------------------------------------------------------------


def _cookie_value(rng: random.Random) -> str:
    return rng.choice(
        [
            lambda: _pick(rng, ALNUM, 32),
            lambda: rng.randbytes(16).hex(),
            lambda: "s%3A" + _pick(rng, ALNUM + "-_", 24) + "." + _pick(rng, ALNUM + "%", 30),
            lambda: base64.urlsafe_b64encode(rng.randbytes(24)).decode(),
        ]
    )()


def cookie(rng: random.Random) -> Item:
    _item, t = one(rng.choice(["note", "headers", "request"]))
    name = rng.choice(["sid", "session", "JSESSIONID", "connect.sid", "__Host-auth", "remember_me"])
    value = _cookie_value(rng)
    other = f"theme={rng.choice(['dark', 'light'])}"
    shape = rng.randrange(6)
    if shape == 0:
        b = _frag((f"Cookie: {name}=", None), (value, "cookie"), (f"; {other}", None))
    elif shape == 1:
        b = _frag((f"cookie: {other}; {name}=", None), (value, "cookie"))
    elif shape == 2:
        b = _frag(
            (f"Set-Cookie: {name}=", None),
            (value, "cookie"),
            ("; Path=/; Secure; HttpOnly; SameSite=Lax", None),
        )
    elif shape == 3:
        b = _frag((f'"Cookie": "{name}=', None), (value, "cookie"), (f'; {other}"', None))
    elif shape == 4:
        b = _frag((f"set-cookie:{name}=", None), (value, "cookie"), ("; Max-Age=3600", None))
    else:
        b = _frag((f"headers={{'cookie': '{name}=", None), (value, "cookie"), ("'}", None))
    return _wrap(rng, t, b)


# --- provider keys -------------------------------------------------------------------------

PROVIDER = {
    "twilio_key": lambda r: "SK" + r.randbytes(16).hex(),
    "sendgrid_key": lambda r: f"SG.{_pick(r, ALNUM + '-_', 22)}.{_pick(r, ALNUM + '-_', 43)}",
    "gitlab_token": lambda r: (
        r.choice(["glpat-", "glpat-", "gldt-", "glrt-"]) + _pick(r, ALNUM + "-_", 20)
    ),
    "npm_token": lambda r: "npm_" + _pick(r, ALNUM, 36),
    "openai_key": lambda r: r.choice(
        [
            lambda: "sk-proj-" + _pick(r, ALNUM + "-_", r.choice([48, 64, 156])),
            lambda: "sk-svcacct-" + _pick(r, ALNUM + "-_", 64),
            lambda: "sk-" + _pick(r, ALNUM, 20) + "T3BlbkFJ" + _pick(r, ALNUM, 20),
            lambda: "sk-" + _pick(r, ALNUM, 48),
        ]
    )(),
}

PROVIDER_SHAPES = [
    "{v}",
    "token={v}",
    "Authorization: token {v}",
    '"apiKey": "{v}"',
    "export API_TOKEN='{v}'",
    "key:{v}",
    "using {v} for deploys",
    "//registry/:_authToken={v}",
    "(creds {v})",
]


def _provider(kind: str) -> Maker:
    def make(rng: random.Random) -> Item:
        _item, t = one(rng.choice(["note", "config", "ci"]))
        value = PROVIDER[kind](rng)
        pre, _, post = rng.choice(PROVIDER_SHAPES).partition("{v}")
        return _wrap(rng, t, _frag((pre, None), (value, kind), (post, None)))

    make.__name__ = kind
    return make


# --- URL userinfo --------------------------------------------------------------------------


def url_password(rng: random.Random) -> Item:
    _item, t = one(rng.choice(["note", "dsn", "error"]))
    scheme = rng.choice(
        ["postgres", "postgresql", "mysql", "redis", "amqp", "mongodb+srv", "https", "ftp", "smtp"]
    )
    user = rng.choice(["admin", "svc_billing", "root", "", "app-user", "deploy"])
    while True:
        pw = _pick(rng, ALNUM * 2 + "@#%?!$&*()+=:;,[]~", rng.randint(8, 24))
        if pw[0] not in "@" and any(ch in pw for ch in "@#%"):
            break
    host = rng.choice(["db.internal", "cache.prod.example.com:6379", "mq:5672", "pg-primary"])
    path = rng.choice(["/app", "/0", "/?ssl=true", "", " (primary)"])
    b = _frag((f"{scheme}://{user}:", None), (pw, "url_password"), (f"@{host}{path}", None))
    return _wrap(rng, t, b)


# --- secret-named keys -----------------------------------------------------------------------

KEY_NAMES = [
    "password", "passwd", "pwd", "Password", "DB_PASSWORD", "PGPASSWORD", "smtp.password",
    "secret", "client_secret", "webhookSecret", "JWT_SECRET",
    "token", "access_token", "refresh_token", "X-Auth-Token", "csrf_token", "id_token",
    "key", "api_key", "apiKey", "x-api-key", "AccountKey", "SharedAccessKey", "signing_key",
    "encryption_key", "private_key", "MASTER_KEY", "license-key",
    "passphrase", "credentials", "sig",
]  # fmt: skip


def _key_shape(rng: random.Random, key: str, value_kind: str) -> Text:
    shape = rng.randrange(11)
    if shape in (0, 1, 2, 3):  # unquoted
        value = bare_value(rng, rng.choice(PUNCT) if value_kind == "punct_password" else None)
        sep = ["=", ": ", " = ", "=>"][shape]
        return _frag((f"{key}{sep}", None), (value, value_kind))
    if shape == 4:  # JSON
        value = quoted_value(rng).replace("\\", "").replace('"', "")
        return _frag((f'"{key}": "', None), (value, value_kind), ('"', None))
    if shape == 5:  # JSON inside a JSON string
        value = quoted_value(rng).replace("\\", "").replace('"', "")
        return _frag((f'{{\\"{key}\\": \\"', None), (value, value_kind), ('\\"}', None))
    if shape == 6:  # single quotes
        value = quoted_value(rng).replace("'", "")
        return _frag((f"{key}='", None), (value, value_kind), ("'", None))
    if shape == 7:  # command-line flag
        value = bare_value(rng, rng.choice(ALNUM))
        return _frag((f"--{key.lower()} ", None), (value, value_kind), (" --verbose", None))
    if shape == 8:  # XML
        value = quoted_value(rng).replace("<", "").replace(">", "").strip() or "s3cr3t!"
        return _frag((f"<{key}>", None), (value, value_kind), (f"</{key}>", None))
    if shape == 9:  # query string
        value = bare_value(rng, rng.choice(PUNCT) if value_kind == "punct_password" else None)
        return _frag(
            (f"/login?user=bob&{key}=", None), (value, value_kind), ("&next=%2Fhome", None)
        )
    value = bare_value(rng, rng.choice(PUNCT) if value_kind == "punct_password" else None)
    return _frag((f"{key.upper()}: ", None), (value, value_kind))  # YAML / env


def secret_key_value(rng: random.Random) -> Item:
    _item, t = one(rng.choice(["note", "config", "request", "error"]))
    return _wrap(rng, t, _key_shape(rng, rng.choice(KEY_NAMES), "secret_key_value"))


def punct_password(rng: random.Random) -> Item:
    _item, t = one(rng.choice(["note", "request"]))
    key = rng.choice(["password", "passwd", "pwd", "user_password", "PASSWORD"])
    value = bare_value(rng, rng.choice(PUNCT))
    sep = rng.choice(["=", ": ", ":", " = "])
    return _wrap(rng, t, _frag((f"{key}{sep}", None), (value, "punct_password")))


def secret_map_key(rng: random.Random) -> Item:
    """``{"db_password": "<anything>"}``: the key says it, the value may look like nothing."""
    key = rng.choice(KEY_NAMES)
    t = Text(key)
    t.value(
        "secret_map_key", "secret", rng.choice([quoted_value(rng), "1234", "true", bare_value(rng)])
    )
    return Item([t, Text("note").add("updated")])


LOOKALIKES = {
    "token_count": lambda r: f"max_tokens={r.randint(1, 8192)} token_count={r.randint(1, 99)}",
    "password_event": lambda r: r.choice(
        ["password_reset_sent=true", "password_changed_at=2026-11-02", "passwords_expired=3"]
    ),
    "key_word": lambda r: r.choice(
        ["keyboard layout de", "monkey patching disabled", "hotkeys: 3", "keys rotated: 2"]
    ),
    "sku": lambda r: f"SKU-{r.randint(10000, 99999)} qty {r.randint(1, 9)}",
    "task_id": lambda r: f"task-proj-{r.randint(100, 999)} done",
    "hex_digest": lambda r: r.randbytes(16).hex(),
    "url_with_port": lambda r: f"https://api.example.com:{r.randint(1024, 9999)}/v1/items",
    "cookie_setting": lambda r: f"cookies_enabled={r.choice(['true', 'false'])}",
    "token_expiry": lambda r: f"token_expires_in={r.randint(60, 86400)}",
}


def secret_lookalike(rng: random.Random) -> Item:
    item, t = one(rng.choice(["note", "config", "request"]))
    kind = rng.choice(sorted(LOOKALIKES))
    pre, post = rng.choice(SURROUND)
    t.add(pre).lookalike(kind, LOOKALIKES[kind](rng)).add(post)
    return item


SECRETS: dict[str, Maker] = {
    "secret_lookalike": secret_lookalike,
    "connection_string": connection_string,
    "cookie": cookie,
    "url_password": url_password,
    "secret_key_value": secret_key_value,
    "punct_password": punct_password,
    "secret_map_key": secret_map_key,
    **{k: _provider(k) for k in PROVIDER},
}
