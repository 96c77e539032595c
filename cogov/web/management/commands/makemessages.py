"""makemessages that also extracts ``_t("…")``: staff.py and station.py import ``gettext as _t`` (``_`` being the
lazy one there), and xgettext knows only ``_``, ``gettext``, … by default — without this their strings are missed."""

from django.core.management.commands import makemessages


class Command(makemessages.Command):
    """Django's makemessages with ``_t`` as one more gettext keyword."""

    xgettext_options = [*makemessages.Command.xgettext_options, "--keyword=_t"]
