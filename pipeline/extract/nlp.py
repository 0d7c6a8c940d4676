"""The spaCy pipeline of extraction: a blank Vietnamese `Language` with one component per extractor."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import spacy
from rapidfuzz import fuzz
from spacy.language import Language
from spacy.tokens import Doc, Span
from spacy.vocab import Vocab

from pipeline.extract.dates import iter_dates
from pipeline.extract.geometry import line_geometry
from pipeline.extract.header import Layout, parse_layout
from pipeline.extract.places import extract_places
from pipeline.extract.references import extract_references
from pipeline.extract.tasks import TaskContext, extract_tasks
from pipeline.extract.text import DocumentText, fold, fold_key
from pipeline.types import DateMention, PageResult, Place, Record, Reference, Task

# How close (rapidfuzz ratio of folded names) an unresolved place of issue must be to a unit of the header to
# take its spelling: one or two letters misread in a name of two syllables.
PLACE_OF_ISSUE_RATIO = 85
COMPONENTS = ("congvan_header", "congvan_references", "congvan_dates", "congvan_places", "congvan_tasks")
_TOKEN = re.compile(r"\w+|[^\w\s]|\s+")


class LinearTokenizer:
    """Words and punctuation marks, whitespace kept as spaCy does; linear in the text length (spaCy's own
    non-pyvi Vietnamese tokenizer aligns words with `get_words_and_spaces`, which is quadratic)."""

    def __init__(self, vocab: Vocab) -> None:
        self.vocab = vocab

    def __call__(self, text: str) -> Doc:
        words: list[str] = []
        spaces: list[bool] = []
        for match in _TOKEN.finditer(text):
            token = match.group()
            if token[0].isspace():
                if words and not spaces[-1] and token[0] == " ":
                    spaces[-1] = True
                    token = token[1:]
                if token:
                    words.append(token)
                    spaces.append(False)
                continue
            words.append(token)
            spaces.append(False)
        return Doc(self.vocab, words=words, spaces=spaces)


@dataclass
class ExtractionState:
    """What the components share through `doc._.congvan`."""

    text: DocumentText
    layout: Layout | None = None
    references: list[Reference] = field(default_factory=list)
    dates: list[DateMention] = field(default_factory=list)
    places: list[Place] = field(default_factory=list)
    tasks: list[Task] = field(default_factory=list)

    def record(self) -> Record:
        assert self.layout is not None
        return Record(self.layout.header, self.references, self.dates, self.places, self.tasks)


def _state(doc: Doc) -> ExtractionState:
    state: ExtractionState | None = doc._.congvan
    if state is None:  # a Doc made outside `run_pipeline` (doc.text rebuilds the text from every token)
        state = ExtractionState(DocumentText.from_text(doc.text))
        doc._.congvan = state
    return state


def _span_group(doc: Doc, name: str, spans: list[tuple[int, int, str]]) -> None:
    group = []
    for start, end, label in spans:
        span = doc.char_span(start, end, label=label, alignment_mode="expand")
        if span is not None:
            group.append(span)
    doc.spans[name] = group


@Language.component("congvan_header")
def header_component(doc: Doc) -> Doc:
    state = _state(doc)
    state.layout = parse_layout(state.text)
    return doc


@Language.component("congvan_references")
def references_component(doc: Doc) -> Doc:
    state = _state(doc)
    assert state.layout is not None
    own = state.layout.own_code.code if state.layout.own_code else state.layout.header.code
    state.references = extract_references(state.text, own_code=own)
    _span_group(doc, "references", [(m.start, m.end, r.code) for r in state.references for m in r.mentions])
    return doc


@Language.component("congvan_dates")
def dates_component(doc: Doc) -> Doc:
    state = _state(doc)
    assert state.layout is not None
    date = state.layout.header.date
    excluded = [(m.start, m.end) for r in state.references for m in r.mentions]
    state.dates = iter_dates(state.text, default_year=int(date[:4]) if date else None, exclude=excluded)
    _span_group(doc, "dates", [(d.span.start, d.span.end, d.kind) for d in state.dates if d.span])
    return doc


@Language.component("congvan_places")
def places_component(doc: Doc) -> Doc:
    state = _state(doc)
    layout = state.layout
    assert layout is not None
    lines = state.text.lines
    header_end = lines[layout.header_end].start if layout.header_end < len(lines) else len(state.text.text)
    state.places = extract_places(state.text, header_end=header_end, place_of_issue=layout.place_span,
                                  date=layout.header.date)
    _canonical_place_of_issue(state, header_end)
    _span_group(doc, "places", [(m.start, m.end, p.level) for p in state.places for m in p.mentions])
    return doc


def _canonical_place_of_issue(state: ExtractionState, header_end: int) -> None:
    """'Bình Giã, ngày …' (a diacritic misread) names the unit 'Bình Gia': write the gazetteer's spelling when
    the place of issue resolved to a unit that differs only in diacritics; when it resolved to none ('Lương
    Tòi'), the spelling of the header's unit it is closest to (the issuer's locality), if close enough."""
    layout = state.layout
    assert layout is not None
    place = layout.header.place
    if layout.place_span is None or place is None:
        return
    start = layout.place_span[0]
    for unit in state.places:
        if any(m.start == start for m in unit.mentions):
            if fold_key(unit.name) == fold_key(place):
                layout.header.place = unit.name
            return
    written = fold(place)
    scored = [(fuzz.ratio(fold(unit.name), written), unit.name) for unit in state.places
              if any(m.start < header_end for m in unit.mentions)]
    best = max(scored, default=None)
    if best is not None and best[0] >= PLACE_OF_ISSUE_RATIO and fold(best[1]) != written:
        layout.header.place = best[1]


@Language.component("congvan_tasks")
def tasks_component(doc: Doc) -> Doc:
    state = _state(doc)
    assert state.layout is not None
    state.tasks = extract_tasks(state.text, state.layout, TaskContext(state.references, state.dates, state.places))
    _span_group(doc, "tasks", [(t.span.start, t.span.end, t.id) for t in state.tasks if t.span])
    return doc


@lru_cache(maxsize=1)
def extraction_pipeline() -> Language:
    """The blank `vi` pipeline (no pyvi word segmentation: extractors work on characters and lines)."""
    if not Doc.has_extension("congvan"):
        Doc.set_extension("congvan", default=None)
    nlp = spacy.blank("vi", config={"nlp": {"tokenizer": {"use_pyvi": False}}})
    nlp.tokenizer = LinearTokenizer(nlp.vocab)
    nlp.max_length = 10**9  # components scan the text linearly; no model with a length limit runs here
    for name in COMPONENTS:
        nlp.add_pipe(name)
    return nlp


def run_pipeline(text: str, pages: Sequence[PageResult] | None = None) -> Doc:
    """The text through every component; the shared state is made from `text` itself, with the lines'
    positions when `pages` carry the OCR words of that text."""
    nlp = extraction_pipeline()
    doc = nlp.make_doc(text)
    document = DocumentText.from_text(text)
    if pages:
        document.geometry = line_geometry(document, pages)
    doc._.congvan = ExtractionState(document)
    for _name, component in nlp.pipeline:
        doc = component(doc)
    return doc


def spans(doc: Doc, name: str) -> list[Span]:
    return list(doc.spans.get(name, []))
