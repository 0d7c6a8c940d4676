"""Vietnamese syllables, shared by restore and extract: letters, tone marks, skeletons, tone placement, validity."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from functools import lru_cache

# Tone numbering used everywhere: 0 ngang, 1 sắc, 2 huyền, 3 hỏi, 4 ngã, 5 nặng.
TONE_MARKS = ("", "\u0301", "\u0300", "\u0309", "\u0303", "\u0323")
BASE_VOWELS = "aăâeêioôơuưy"
CONSONANTS = "bcdđghklmnpqrstvx"
STOP_CODAS = ("c", "ch", "k", "p", "t")
ONSETS = (
    "ngh", "ng", "nh", "ch", "gh", "gi", "kh", "ph", "qu", "th", "tr",
    "b", "c", "d", "đ", "g", "h", "k", "l", "m", "n", "p", "r", "s", "t", "v", "x", "",
)  # fmt: skip
CODAS = ("ng", "nh", "ch", "c", "k", "m", "n", "p", "t", "")  # k: place names (Đắk Lắk)
# Vowel clusters (toneless, lowercase) as written, with whether they need a consonant coda ("closed"),
# may not take one ("open"), or may do either ("both").
_CLUSTERS = {
    "a": "both", "ă": "closed", "â": "closed", "e": "both", "ê": "both", "i": "both", "o": "both",
    "ô": "both", "ơ": "both", "u": "both", "ư": "both", "y": "both",
    "ai": "open", "ao": "open", "au": "open", "ay": "open", "âu": "open", "ây": "open", "eo": "open",
    "êu": "open", "ia": "open", "iu": "open", "oi": "open", "ôi": "open", "ơi": "open", "ui": "open",
    "ưi": "open", "ưu": "open", "ưa": "open", "ua": "open", "uơ": "open", "uya": "open", "uyu": "open",
    "iê": "closed", "yê": "closed", "uô": "closed", "ươ": "closed", "uyê": "closed", "oă": "closed",
    "uâ": "closed", "oo": "closed",
    "iêu": "open", "yêu": "open", "uôi": "open", "ươi": "open", "ươu": "open", "oai": "open",
    "oay": "open", "oao": "open", "oeo": "open", "uây": "open", "uêu": "open",
    "oa": "both", "oe": "both", "uê": "both", "uy": "both",
}  # fmt: skip
# Codas each cluster's last vowel admits (ch/nh only after front vowels, c/ng not after them).
_FRONT_CODAS = ("ch", "nh", "m", "n", "p", "t")
_BACK_CODAS = ("c", "k", "ng", "m", "n", "p", "t")
_CODAS_BY_LAST = {
    "a": ("c", "ch", "k", "ng", "nh", "m", "n", "p", "t"),
    "ă": _BACK_CODAS,
    "â": _BACK_CODAS,
    "e": ("c", "ng", "m", "n", "p", "t"),
    "ê": ("ch", "nh", "m", "n", "p", "t"),
    "i": _FRONT_CODAS,
    "y": ("ch", "nh", "n", "p", "t"),
    "o": _BACK_CODAS,
    "ô": _BACK_CODAS,
    "ơ": ("m", "n", "p", "t"),
    "u": _BACK_CODAS,
    "ư": ("c", "ng", "m", "n", "t"),
}


def _coda_class(cluster: str) -> str:
    """The letter whose coda rules a cluster follows: iê/yê/ươ take back codas (tiếng, việc, được)."""
    if cluster.endswith(("iê", "yê", "ươ")):
        return "ô"
    return cluster[-1]


def _compose(base: str, tone: int) -> str:
    return unicodedata.normalize("NFC", base + TONE_MARKS[tone])


# OCR's letters and signs for printed digits, one character for one: a 1 as I, l, | or !, a 0 as O or o, an 8 as §
# ("ngày I§ tháng O1", "số I3/UB-TP", "2O17"). Each use takes the view it can trust (digit_letters): in folded
# text (lower case) all of them; in codes, case kept, not "o" or "§" (a lower-case o beside digits is a word's
# letter, "16n" for lớn); in the restorer's tokens not "l" either (its words carry it next to digits).
OCR_DIGIT_LETTERS = {"I": "1", "l": "1", "|": "1", "!": "1", "O": "0", "o": "0", "§": "8"}


def digit_letters(*, without: str = "", folded: bool = False) -> dict[str, str]:
    """A view of OCR_DIGIT_LETTERS: letter → digit, less the letters in `without`, lower-cased when `folded`."""
    return {(letter.lower() if folded else letter): digit for letter, digit in OCR_DIGIT_LETTERS.items()
            if letter not in without}


# char → (char without tone, tone) for every Vietnamese vowel, both cases.
_TONE_OF: dict[str, tuple[str, int]] = {}
for _vowel in BASE_VOWELS + BASE_VOWELS.upper():
    for _tone in range(6):
        _TONE_OF[_compose(_vowel, _tone)] = (_vowel, _tone)
_WITH_TONE: dict[tuple[str, int], str] = {value: key for key, value in _TONE_OF.items()}
VIETNAMESE_LETTERS = frozenset(
    set(_TONE_OF) | set(CONSONANTS) | set(CONSONANTS.upper()) | set("fjwzFJWZ")
)  # fmt: skip
MARKED_LETTERS = frozenset(c for c in VIETNAMESE_LETTERS if not c.isascii())
VOWEL_LETTERS = tuple(sorted(c for c in _TONE_OF if c.islower()))
# letters an English (Latin-1) OCR model never outputs: their presence means a Vietnamese model read the text
VIETNAMESE_ONLY = frozenset(c for c in MARKED_LETTERS if ord(c) > 0xFF)


def _skeleton_table() -> dict[int, str]:
    """Map every precomposed Latin letter whose NFD starts with an ASCII letter to that letter; đ→d."""
    table: dict[int, str] = {0x0110: "D", 0x0111: "d", 0x00D0: "D", 0x00F0: "d"}
    for code in range(0x00C0, 0x2000):
        decomposed = unicodedata.normalize("NFD", chr(code))
        if len(decomposed) > 1 and decomposed[0].isascii() and decomposed[0].isalpha():
            table[code] = decomposed[0]
    return table


_SKELETON = _skeleton_table()
_TONELESS = {ord(c): base for c, (base, tone) in _TONE_OF.items() if tone}


def skeleton(text: str) -> str:
    """Strip every diacritic and map đ→d: `Đường` → `Duong`. Keeps case and non-letters."""
    return text.translate(_SKELETON)


def remove_tone(text: str) -> str:
    """Drop tone marks only, keeping hats/horns/breves: `người` → `ngươi`."""
    return text.translate(_TONELESS)


def normalize_text(text: str) -> str:
    """NFC, with the corpus artefact Ð/ð (eth) mapped to Đ/đ."""
    return unicodedata.normalize("NFC", text).replace("\u00d0", "\u0110").replace("\u00f0", "\u0111")


def split_tone(syllable: str) -> tuple[str, int]:
    """(syllable without its tone mark, tone number). Several marks: the last one wins."""
    tone = 0
    chars = []
    for char in syllable:
        entry = _TONE_OF.get(char)
        if entry is None:
            chars.append(char)
        else:
            chars.append(entry[0])
            if entry[1]:
                tone = entry[1]
    return "".join(chars), tone


def with_tone(vowel: str, tone: int) -> str:
    """The vowel letter carrying `tone` (`ơ`, 2 → `ờ`)."""
    return _WITH_TONE[(vowel, tone)]


_ONSET_RE = re.compile("^(" + "|".join(o for o in ONSETS if o) + ")?")


@lru_cache(maxsize=65536)
def parse(toneless: str) -> tuple[str, str, str] | None:
    """Split a lowercase toneless syllable into (onset, vowel cluster, coda), or None if it is not one."""
    if not toneless:
        return None
    onset = _ONSET_RE.match(toneless).group(0)  # type: ignore[union-attr]
    rest = toneless[len(onset) :]
    if onset == "gi" and (not rest or rest[0] not in BASE_VOWELS or rest.startswith("ê")):
        # "gì", "gìn", "giếng": the i is the vowel, not part of the onset
        onset, rest = "g", toneless[1:]
    coda = ""
    for candidate in CODAS:
        if candidate and rest.endswith(candidate) and len(rest) > len(candidate):
            coda = candidate
            break
    cluster = rest[: len(rest) - len(coda)]
    if cluster not in _CLUSTERS:
        return None
    return onset, cluster, coda


@lru_cache(maxsize=65536)
def is_valid(syllable: str) -> bool:
    """Whether a lowercase syllable (tone marks allowed) obeys Vietnamese phonotactics and spelling."""
    toneless, tone = split_tone(syllable)
    parts = parse(toneless)
    if parts is None:
        return False
    onset, cluster, coda = parts
    kind = _CLUSTERS[cluster]
    if coda and kind == "open":
        return False
    if not coda and kind == "closed":
        return False
    if coda and coda not in _CODAS_BY_LAST.get(_coda_class(cluster), ()):
        return False
    if coda in STOP_CODAS and tone not in (1, 5):
        return False
    first = cluster[0]
    front = first in "ieêy"
    if onset in ("gh", "ngh") and not front:
        return False
    if onset in ("c", "g", "ng") and front and not (onset == "g" and cluster.startswith("i")):
        return False
    if onset == "qu" and first in "uưo":
        return False
    if (
        first == "o"
        and cluster in ("oa", "oă", "oe", "oai", "oay", "oao", "oeo")
        and onset in ("qu", "k", "gh")
    ):
        return False
    if cluster in ("uâ", "uê", "uy", "uya", "uyu", "uyê", "uây", "uêu", "uơ") and onset in (
        "c",
        "k",
        "gh",
        "ngh",
        "qu",
    ):
        return False
    if cluster.startswith("y") and cluster != "y" and onset not in ("", "qu"):
        # "yê"/"yêu" are spelt with y only without onset (yên, yêu) or after the u-glide (quyên)
        return False
    return not (cluster.startswith("iê") and onset == "")


def tone_position(toneless: str) -> int | None:
    """Index of the vowel that carries the tone in the traditional placement (hòa, thủy, hoàn, người)."""
    parts = parse(toneless)
    if parts is None:
        return None
    onset, cluster, coda = parts
    start = len(onset)
    for index, char in enumerate(cluster):
        if char in "ăâêôơư":
            if cluster[index : index + 2] == "ươ":
                return start + index + 1
            return start + index
    if coda or len(cluster) == 1:
        return start + len(cluster) - 1
    if len(cluster) == 3:
        return start + 1
    return start


def place_tone(toneless: str, tone: int) -> str:
    """Write `tone` on the right vowel of a lowercase toneless syllable (rule-based placement)."""
    if tone == 0:
        return toneless
    position = tone_position(toneless)
    if position is None:
        return toneless
    return toneless[:position] + with_tone(toneless[position], tone) + toneless[position + 1 :]


def tone_key(syllable: str) -> str:
    """Placement-insensitive identity of a syllable: `hoà` and `hòa` share the key `hoa2`."""
    toneless, tone = split_tone(syllable)
    return f"{toneless}{tone}"


def generate_inventory() -> Iterator[str]:
    """Every lowercase syllable phonotactics allows, with the traditional tone placement."""
    for toneless in _valid_toneless():
        tones = (1, 5) if toneless.endswith(STOP_CODAS) else range(6)
        for tone in tones:
            yield place_tone(toneless, tone)


@lru_cache(maxsize=1)
def _valid_toneless() -> tuple[str, ...]:
    """Toneless spellings that are syllables with at least one tone (sắc always fits a stop coda)."""
    found = []
    for onset in ONSETS:
        for cluster in _CLUSTERS:
            for coda in CODAS:
                toneless = onset + cluster + coda
                if parse(toneless) != (onset, cluster, coda):
                    continue
                probe = place_tone(toneless, 1) if coda in STOP_CODAS else toneless
                if is_valid(probe):
                    found.append(toneless)
    return tuple(found)


@lru_cache(maxsize=1)
def _inventory_skeletons() -> frozenset[str]:
    return frozenset(skeleton(s) for s in _valid_toneless())


def could_be_syllable(text: str) -> bool:
    """Whether lowercase `text` is a syllable, or becomes one once diacritics are added (viet → việt)."""
    return is_valid(text) or skeleton(text) in _inventory_skeletons()


# fold's table is skeleton's, lower-cased, over the characters below U+2000 (Latin, Greek, Cyrillic): the marks
# that fold strips are those skeleton strips. Lower case keeps the length: skeleton has made İ (i + dot) an I.
_FOLD = {code: skeleton(chr(code)).lower() for code in range(0x2000) if skeleton(chr(code)).lower() != chr(code)}


def fold(text: str) -> str:
    """Lower case without diacritics, one character for one character (offsets stay valid): `skeleton`,
    lower-cased.

    >>> fold("Quyết định Số 539/QĐ-UBND")
    'quyet dinh so 539/qd-ubnd'
    """
    return text.translate(_FOLD)
