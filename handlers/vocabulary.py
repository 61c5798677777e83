"""Controlled lists: categories, skills, rejection reasons. Codes are stored; labels translated."""

from __future__ import annotations

from bot.i18n import Translator


def N_(message: str) -> str:
    """Mark a string for the catalog without translating it yet (it is translated when shown)."""
    return message


CATEGORIES: dict[str, str] = {
    "social": N_("Social assistance"),
    "culture": N_("Culture"),
    "education": N_("Education and homework help"),
    "language": N_("Language exchange"),
    "food": N_("Food distribution"),
    "sport": N_("Sport"),
    "environment": N_("Environment"),
    "health": N_("Health"),
    "legal": N_("Legal and administrative help"),
    "events": N_("Events"),
    "other": N_("Other"),
}

CATEGORY_ICONS: dict[str, str] = {
    "social": "🫶",
    "culture": "🎭",
    "education": "📚",
    "language": "🗣",
    "food": "🍲",
    "sport": "⚽",
    "environment": "🌳",
    "health": "🩺",
    "legal": "⚖️",
    "events": "🎉",
    "other": "✨",
}

SKILLS: dict[str, str] = {
    "languages": N_("Speaking several languages"),
    "translation": N_("Translating and interpreting"),
    "teaching": N_("Teaching and tutoring"),
    "childcare": N_("Working with children"),
    "cooking": N_("Cooking"),
    "sewing": N_("Sewing and crafts"),
    "listening": N_("Listening and support"),
    "organising": N_("Organising events"),
    "computers": N_("Computers and phones"),
    "driving": N_("Driving"),
    "sport": N_("Sport and games"),
    "music": N_("Music and art"),
    "gardening": N_("Gardening"),
    "repairs": N_("Repairs and DIY"),
    "first_aid": N_("First aid"),
    "law": N_("Law and paperwork"),
}


SERVICE_CATEGORIES: dict[str, str] = {
    "registration": N_("Registration and documents"),
    "health": N_("Health"),
    "legal": N_("Legal aid"),
    "housing": N_("Housing and shelter"),
    "language": N_("Language classes"),
    "work": N_("Work and training"),
    "education": N_("Education"),
    "food": N_("Food and basic needs"),
    "family": N_("Family and children"),
    "emergency": N_("Emergency"),
}

SERVICE_ICONS: dict[str, str] = {
    "registration": "🪪",
    "health": "🩺",
    "legal": "⚖️",
    "housing": "🏠",
    "language": "🗣",
    "work": "💼",
    "education": "🎓",
    "food": "🥖",
    "family": "👨‍👩‍👧",
    "emergency": "🚨",
}

# Why a moderator turned down an opportunity a peer suggested (the code is stored).
REJECTION_REASONS: dict[str, str] = {
    "not_volunteering": N_("It is not a volunteering opportunity"),
    "missing_details": N_("Important details are missing"),
    "duplicate": N_("We already list it"),
    "outside_city": N_("It is outside our city"),
    "unsafe": N_("It is unsafe or inappropriate"),
}


def service_category_label(t: Translator, code: str) -> str:
    """A service category's icon and name in the reader's language."""
    return f"{SERVICE_ICONS.get(code, '🏛')} {t._(SERVICE_CATEGORIES.get(code, code))}"


def category_label(t: Translator, code: str) -> str:
    """The category's icon and name in the reader's language."""
    return f"{CATEGORY_ICONS.get(code, '✨')} {t._(CATEGORIES.get(code, CATEGORIES['other']))}"


def skill_label(t: Translator, code: str) -> str:
    """The skill's name in the reader's language."""
    return t._(SKILLS[code])


def rejection_reason_label(t: Translator, code: str) -> str:
    """Why a suggestion was turned down, in the reader's language."""
    return t._(REJECTION_REASONS[code])
