"""Emergency words in every shipped language: a match puts the emergency numbers first, at once.

These are content words, not interface text: they are matched against what people type, so they
are listed per language here rather than translated through the catalogs.
"""

from __future__ import annotations

from functools import cache

from storage.text import fold, words

EMERGENCY_WORDS: dict[str, tuple[str, ...]] = {
    "en": ("police", "ambulance", "emergency", "help me", "danger", "fire", "attacked",
           "bleeding", "suicide", "violence"),
    "it": ("polizia", "carabinieri", "ambulanza", "emergenza", "aiutatemi", "aiutami",
           "pericolo", "incendio", "violenza", "sto male"),
    "ar": ("شرطة", "الشرطة", "اسعاف", "الاسعاف", "طوارئ", "الطوارئ", "ساعدوني", "ساعدني",
           "النجدة", "خطر", "حريق", "عنف"),
    "ur": ("پولیس", "ایمبولینس", "ہنگامی", "ایمرجنسی", "مدد کرو", "میری مدد", "خطرہ", "آگ"),
    "tr": ("polis", "ambulans", "acil", "imdat", "yardım edin", "tehlike", "yangın", "şiddet"),
    "ku": ("polîs", "ambulans", "acîl", "alîkarî bikin", "xeter", "agir", "şîdet"),
    "ckb": ("پۆلیس", "ئەمبولانس", "فریاکەوتن", "یارمەتیم بدەن", "مەترسی", "ئاگر"),
    "fa": ("پلیس", "آمبولانس", "اورژانس", "کمک کنید", "کمکم کنید", "خطر", "آتش سوزی"),
    "ps": ("پولیس", "امبولانس", "بیړني", "مرسته وکړئ", "خطر", "اور"),
    "uk": ("поліція", "поліцію", "швидка", "швидку", "допоможіть", "небезпека", "пожежа",
           "екстрена"),
    "fr": ("police", "ambulance", "urgence", "aidez-moi", "au secours", "danger", "incendie",
           "violence"),
    "es": ("policía", "ambulancia", "emergencia", "ayúdame", "socorro", "peligro", "incendio"),
    "de": ("polizei", "krankenwagen", "notfall", "notarzt", "hilfe", "gefahr", "feuer"),
    "el": ("αστυνομία", "ασθενοφόρο", "έκτακτη ανάγκη", "βοήθεια", "κίνδυνος", "φωτιά"),
    "bn": ("পুলিশ", "অ্যাম্বুলেন্স", "জরুরি", "সাহায্য করুন", "বিপদ", "আগুন"),
    "ti": ("ፖሊስ", "ኣምቡላንስ", "ህጹጽ", "ሓግዙኒ", "ሓደጋ", "ሓዊ"),
}  # fmt: skip


def _canonical(text: str, locale: str) -> str:
    """Words only, lowered and folded as search folds them, padded for whole-word matching."""
    return " " + " ".join(fold(word) for word in words(text, locale)) + " "


@cache
def _phrases() -> tuple[str, ...]:
    return tuple(
        _canonical(phrase, locale)
        for locale, phrases in EMERGENCY_WORDS.items()
        for phrase in phrases
    )


def is_emergency(text: str, locale: str) -> bool:
    """True when the text contains an emergency word of any shipped language."""
    canonical = _canonical(text, locale)
    return any(phrase in canonical for phrase in _phrases())
