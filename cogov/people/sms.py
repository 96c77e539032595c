"""SMS channel (短信通道) for one-time sign-in codes, chosen by ``settings.COGOV_SMS_BACKEND``.

- ``"console"`` (default, the demo's): the message ``【cogov】验证码 123456`` with the phone goes to stdout and
  the ``cogov.sms`` log — nothing leaves the machine.
- ``"webhook"``: a JSON POST ``{"phone": …, "code": …, "text": …}`` to ``COGOV_SMS_WEBHOOK_URL`` (the city's
  SMS gateway, or a bridge to one); a 2xx answer means sent.

- ``"memory"`` (tests and browser journeys): appended to ``sms.sent`` as ``(phone, code)``; nothing printed.
"""

from __future__ import annotations

import json
import logging
import urllib.request

from django.conf import settings

from cogov.errors import DomainError

logger = logging.getLogger("cogov.sms")
SIGNATURE = "【cogov】"


def message_text(code: str) -> str:
    """The text of the message a phone receives."""
    return f"{SIGNATURE}验证码 {code}，5 分钟内有效。如非本人操作请忽略。"


def _console(phone: str, code: str) -> None:
    line = f"{SIGNATURE}验证码 {code} → {phone}"
    print(line, flush=True)
    logger.warning(line)


def _webhook(phone: str, code: str) -> None:
    url = getattr(settings, "COGOV_SMS_WEBHOOK_URL", "")
    if not url:
        raise DomainError("sms_unavailable", "短信通道未配置（COGOV_SMS_WEBHOOK_URL）", status=503)
    body = json.dumps({"phone": phone, "code": code, "text": message_text(code)}, ensure_ascii=False).encode()
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/json; charset=utf-8"})
    timeout = float(getattr(settings, "COGOV_OUTBOX_TIMEOUT_SECONDS", 5))
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            if not 200 <= answer.status < 300:
                raise OSError(f"HTTP {answer.status}")
    except OSError as exc:
        logger.error("sms webhook failed for %s: %s", phone[:3] + "****" + phone[-4:], exc)
        raise DomainError("sms_unavailable", "短信发送失败，请稍后重试", status=503) from None


#: What the ``memory`` channel sent, oldest first.
sent: list[tuple[str, str]] = []


def _memory(phone: str, code: str) -> None:
    sent.append((phone, code))


BACKENDS = {"console": _console, "webhook": _webhook, "memory": _memory}


def send_code(phone: str, code: str) -> None:
    """Send ``code`` to ``phone`` through the configured channel (raises ``DomainError`` 503 on failure)."""
    name = getattr(settings, "COGOV_SMS_BACKEND", "console") or "console"
    backend = BACKENDS.get(name)
    if backend is None:
        raise DomainError("sms_unavailable", f"未知短信通道：{name}", status=503)
    backend(phone, code)
