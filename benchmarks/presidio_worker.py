"""Runs inside the optional Presidio venv (.bench-venv/, see benchmarks/presidio.py), not in
the project's: standard library and Presidio only, no project imports.

stdin: one JSON document {"model": spaCy model name, "regions": [ISO region, ...],
"events": [[text, ...], ...], "corpus": [text, ...]}. stdout: one JSON document with the
events' throughput (analyze + anonymize every free-text string of an event) and, for each
corpus text, the spans Presidio redacts ([[start, end], ...]).

Presidio is set up as generously as it allows for English text: the default recognizers,
every country-specific recognizer it ships (most are off by default or registered for their
own language only) registered for English too, and the phone recognizer for every region of
the corpus.
"""

from __future__ import annotations

import inspect
import json
import logging
import sys
import time
from typing import Any


def _analyzer(model: str, regions: list[str]) -> Any:
    from presidio_analyzer import AnalyzerEngine, EntityRecognizer
    from presidio_analyzer import predefined_recognizers as predefined
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    provider = NlpEngineProvider(
        nlp_configuration={
            "nlp_engine_name": "spacy",
            "models": [{"lang_code": "en", "model_name": model}],
        }
    )
    analyzer = AnalyzerEngine(nlp_engine=provider.create_engine(), supported_languages=["en"])
    registry = analyzer.registry
    loaded = {type(r).__name__ for r in registry.recognizers}
    for name in dir(predefined):
        cls = getattr(predefined, name)
        if not (inspect.isclass(cls) and issubclass(cls, EntityRecognizer)):
            continue
        if getattr(cls, "COUNTRY_CODE", None) is None or name in loaded:
            continue
        try:
            registry.add_recognizer(cls(supported_language="en"))
        except Exception as exc:  # a recognizer needing a service or extra arguments
            print(f"presidio: {name} not added ({type(exc).__name__})", file=sys.stderr)
    registry.remove_recognizer("PhoneRecognizer")
    registry.add_recognizer(predefined.PhoneRecognizer(supported_regions=regions))
    return analyzer


def _merged(spans: list[tuple[int, int]]) -> list[list[int]]:
    out: list[list[int]] = []
    for s, e in sorted(spans):
        if out and s <= out[-1][1]:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return out


def main() -> None:
    logging.disable(logging.WARNING)  # tldextract complains it cannot fetch a suffix list
    from presidio_anonymizer import AnonymizerEngine

    job = json.load(sys.stdin)
    analyzer = _analyzer(job["model"], job["regions"])
    anonymizer = AnonymizerEngine()

    def redact(text: str) -> str:
        found = analyzer.analyze(text=text, language="en")
        return anonymizer.anonymize(text=text, analyzer_results=found).text

    redact("warm up: alice@example.com")
    cpu0, t0 = time.process_time(), time.perf_counter()
    for texts in job["events"]:
        for text in texts:
            redact(text)
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    spans = [
        _merged([(r.start, r.end) for r in analyzer.analyze(text=text, language="en")])
        for text in job["corpus"]
    ]
    n = len(job["events"])
    json.dump(
        {
            "events_per_s": n / max(wall, 1e-9),
            "events_per_cpu_s": n / max(cpu, 1e-9),
            "corpus_spans": spans,
        },
        sys.stdout,
    )


if __name__ == "__main__":
    main()
