"""Secret detectors: keys and tokens by their shape, credentials in URLs and cookie headers,
and the generic rule that a value after a secret-named key is a secret whatever it looks like.

* Provider keys with a fixed prefix (AWS, GitHub, GitLab ``glpat-``, Slack, Google, npm
  ``npm_``, SendGrid ``SG.``, Twilio ``SK``, OpenAI ``sk-proj-``, Anthropic, JWTs) are found
  even when glued to other text: no left boundary, fail closed. Stripe and OpenAI keys keep a
  left boundary (``risk_live_monitoring``, ``task-admin-…`` are not keys).
* URL userinfo: ``scheme://user:password@host``; the password runs to the *last* ``@`` before
  the path, so a password holding ``@``, ``#``, ``%``, ``?`` or ``:`` is covered whole.
* Cookies: the value of a ``Cookie:``/``Set-Cookie:`` header (every ``name=value`` pair up to
  whitespace), or a quoted cookie string.
* Secret-named keys: a key that *ends* in password, passwd, pwd, passphrase, passcode, secret,
  token, key, credential(s), cookie, sig or signature (``db_password``, ``x-api-key``,
  ``AccountKey``, ``SharedAccessKey``; not ``token_count``), then ``=``, ``:`` or ``=>``
  (or a ``--flag value``, or ``<key>value</key>``). Quoted values run to the closing quote;
  an unquoted value starts at the first non-blank character, whatever it is
  (``password=&8tL…``), and ends at whitespace, a quote, or a ``&``/``,``/``;`` that starts
  the next ``name=`` pair or ends the text or is followed by a blank.
"""

from __future__ import annotations

import re

from pipeline.scrub import validators as v
from pipeline.scrub.base import Detector
from pipeline.scrub.base import compile_ascii as _c

# the key names that mark a secret (not a secret): a key *ending* in one of these
_SECRET_WORDS = (
    r"password|passwd|pwd|passphrase|passcode|secret|token|key|credentials?"  # noqa: S105
    r"|cookie|sig|signature"
    # the word for password in the corpus locales' languages (issue 15)
    r"|passwort|kennwort|contrase(?:ña|na)|mot de passe|senha|wachtwoord|has(?:ło|lo)"
)
_SECRET_NAME = _c(r"(?i)[A-Za-z0-9_.-]{0,40}(?:" + _SECRET_WORDS + r")")
_SECRET_ENDINGS = (
    "password", "passwd", "pwd", "passphrase", "passcode", "secret", "token", "key",
    "credential", "credentials", "cookie", "sig", "signature", "passwort", "kennwort",
    "contraseña", "contrasena", "mot de passe", "senha", "wachtwoord", "hasło", "haslo",
)  # fmt: skip


def secret_name(key: str) -> bool:
    """A map key that names a secret, by the rule of the ``secret`` detector (ends in a secret
    word: ``db_password``, ``x-api-key``, ``AccountKey``; not ``token_count``)."""
    # the ending first: most keys fail it, and str.endswith is far cheaper than the regex
    return key.lower().endswith(_SECRET_ENDINGS) and _SECRET_NAME.fullmatch(key) is not None


# an unquoted value: any first character, then up to whitespace or a quote; & , ; end it only
# before the next name= pair, a blank or the end of the text
_BARE = r"[^\s\"'](?:[^\s\"'&,;]|[&,;](?![A-Za-z_][\w.\[\]-]*=|\s|$))*"
_NAME = r"(?<![A-Za-z0-9])[A-Za-z0-9_.-]{0,40}(?:" + _SECRET_WORDS + r")"


def _jwt(_text: str, m: re.Match[str]) -> list[tuple[int, int]]:
    """The token from the first ``eyJ`` of its run whose header decodes (at most 8 tried:
    ``eyJxeyJhbGci…`` is a JWT glued to text that itself starts like one)."""
    token = m["v"]
    start = 0
    head_end = token.index(".")
    for _ in range(8):
        if v.jwt_ok(token[start:]):
            return [(m.start("v") + start, m.end("v"))]
        start = token.find("eyJ", start + 1, head_end)
        if start < 0:
            break
    return []


_AWS_ID_PREFIX = r"(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|APKA|AROA|ASCA)"
_GITLAB_PREFIX = r"gl(?:pat|dt|rt|ptt|cbt|oas|soat|ffct|imt|agent|ft)-"

SECRETS: tuple[Detector, ...] = (
    Detector(
        "private_key",
        r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY",
        _c(
            r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
            r"(?:.*?-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|.*)",
            re.DOTALL,
        ),
        secret=True,
        priority=0,
    ),
    Detector(
        "jwt",
        r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.",
        # one attempt per run of base64url characters, from the run's first "eyJ" (atomic:
        # "eyJeyJeyJ…" is not rescanned from every "eyJ"; _jwt tries the later ones)
        _c(
            r"(?<![A-Za-z0-9_-])(?>[A-Za-z0-9_-]*?(?=eyJ))"
            r"(?P<v>eyJ[A-Za-z0-9_-]*+\.[A-Za-z0-9_-]++\.[A-Za-z0-9_-]*+)"
        ),
        _jwt,
        secret=True,
        priority=1,
    ),
    Detector(
        "url_credentials",
        r"://[^\s/?#@:]*:[^\s/]*@",
        _c(r"(?i)[a-z][a-z0-9+.-]{0,20}://(?P<v>[^\s/?#@:\"'<>]*:[^\s/\"'<>]*)@"),
        secret=True,
        priority=2,
    ),
    Detector(
        "aws_access_key",
        _AWS_ID_PREFIX + r"[A-Z0-9]{16}",
        _c(_AWS_ID_PREFIX + r"[A-Z0-9]{16}"),
        secret=True,
        priority=3,
    ),
    Detector(
        "aws_secret_key",
        # written as a key (aws_secret_access_key) or in words (AWS Secret Access Key)
        r"(?i)(?:aws[ _-]?secret|secret[ _-]?access[ _-]?key)",
        _c(
            r"(?i)(?:aws[ _-]?secret(?:[ _-]?access)?[ _-]?key|secret[ _-]?access[ _-]?key)"
            r"[\"']?\s*[:=]?\s*[\"'\[]?(?P<v>[A-Za-z0-9/+]{40}[A-Za-z0-9/+=]*)"
        ),
        secret=True,
        priority=3,
    ),
    Detector(
        "github_token",
        r"gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{22}",
        _c(r"(?:gh[pousr]_[A-Za-z0-9]{36,251}|github_pat_[A-Za-z0-9_]{22,251})"),
        secret=True,
        priority=3,
    ),
    Detector(
        "gitlab_token",
        _GITLAB_PREFIX + r"[A-Za-z0-9_-]{20}",
        _c(_GITLAB_PREFIX + r"[A-Za-z0-9_-]{20}[A-Za-z0-9_.-]{0,230}"),
        secret=True,
        priority=3,
    ),
    Detector(
        "slack_token",
        r"xox[abposr]-[A-Za-z0-9-]{10}",
        _c(r"xox[abposr]-[A-Za-z0-9-]{10,250}"),
        secret=True,
        priority=3,
    ),
    Detector(
        "stripe_key",
        r"[sr]k_(?:live|test)_[A-Za-z0-9]{10}",
        _c(r"(?<![A-Za-z0-9])[sr]k_(?:live|test)_[A-Za-z0-9]{10,247}"),
        secret=True,
        priority=3,
    ),
    Detector(
        "google_api_key",
        r"AIza[0-9A-Za-z_-]{35}",
        _c(r"AIza[0-9A-Za-z_-]{35}"),
        secret=True,
        priority=3,
    ),
    Detector(
        "npm_token",
        r"npm_[A-Za-z0-9]{36}",
        _c(r"npm_[A-Za-z0-9]{36}"),
        secret=True,
        priority=3,
    ),
    Detector(
        "sendgrid_key",
        r"SG\.[A-Za-z0-9_-]{16,32}\.[A-Za-z0-9_-]{16}",
        _c(r"SG\.[A-Za-z0-9_-]{16,32}\.[A-Za-z0-9_-]{16,86}"),
        secret=True,
        priority=3,
    ),
    Detector(
        "twilio_key",
        r"SK[0-9a-fA-F]{32}",
        _c(r"SK[0-9a-fA-F]{32}"),
        secret=True,
        priority=3,
    ),
    Detector(
        "openai_key",
        r"sk-(?:proj|svcacct|admin|ant-api[0-9]{2}|ant-admin[0-9]{2})-[A-Za-z0-9_-]{20}"
        r"|sk-[A-Za-z0-9]{48}|sk-[A-Za-z0-9]{20}T3BlbkFJ",
        _c(
            r"(?<![A-Za-z0-9])sk-(?:(?:proj|svcacct|admin|ant-api\d\d|ant-admin\d\d)-"
            r"[A-Za-z0-9_-]{20,250}|[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20}|[A-Za-z0-9]{48})"
        ),
        secret=True,
        priority=3,
    ),
    Detector(
        "bearer_token",
        r"(?i)(?:bearer|authorization)",
        _c(
            r"(?i)(?:\bbearer\s+(?P<v1>[A-Za-z0-9._~+/=-]{6,})"
            r"|\b(?:proxy-)?authorization[\"']?\s*[:=]\s*[\"']?"
            r"(?:(?:bearer|basic|digest|token|negotiate)\s+)?(?P<v2>[^\s,;\"']{6,}))"
        ),
        secret=True,
        priority=4,
    ),
    Detector(
        "cookie",
        r"(?i)cookie",
        _c(
            r"(?i)(?<![A-Za-z0-9])(?:set-)?cookie2?\\?[\"']?\s*[:=]\s*"
            r"(?:\\\"(?P<v1>(?:[^\"\\]|\\[^\"])*)\\\"|\"(?P<v2>(?:[^\"\\]|\\.)*)\""
            r"|'(?P<v3>[^']*)'|(?P<v4>[^\s\"';]+(?:;[ \t]*[^\s\"';]+)*;?))"
        ),
        secret=True,
        priority=4,
    ),
    Detector(
        "secret",
        r"(?i)(?:" + _SECRET_WORDS + r")",
        _c(
            r"(?i)(?:" + _NAME + r"\\?[\"']?\s*(?:[:=]>?|=>)\s*"
            r"(?:\\\"(?P<v1>(?:[^\"\\]|\\[^\"])*)\\\"|\"(?P<v2>(?:[^\"\\]|\\.)*)\""
            r"|'(?P<v3>[^']*)'|(?P<v4>" + _BARE + r"))"
            r"|(?<![A-Za-z0-9-])--?" + _NAME[len("(?<![A-Za-z0-9])") :] + r"\s+"
            r"(?P<v5>[^\s-]\S*)"
            r"|<(?P<tag>" + _NAME[len("(?<![A-Za-z0-9])") :] + r")>(?P<v6>[^<]+)</)"
        ),
        secret=True,
        priority=5,
    ),
)
