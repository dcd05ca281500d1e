"""Runs inside the optional Presidio venv (.bench-venv/, see benchmarks/presidio.py), not in
the project's: standard library and Presidio only, no project imports.

stdin: one JSON document {"model": spaCy model name, "events": [[text, ...], ...],
"corpus": [text, ...]}. stdout: one JSON document with the events' throughput (analyze +
anonymize every free-text string of an event) and each corpus text after anonymization.
"""

from __future__ import annotations

import json
import logging
import sys
import time


def main() -> None:
    logging.disable(logging.WARNING)  # tldextract complains it cannot fetch a suffix list
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider
    from presidio_anonymizer import AnonymizerEngine

    job = json.load(sys.stdin)
    provider = NlpEngineProvider(
        nlp_configuration={
            "nlp_engine_name": "spacy",
            "models": [{"lang_code": "en", "model_name": job["model"]}],
        }
    )
    analyzer = AnalyzerEngine(nlp_engine=provider.create_engine(), supported_languages=["en"])
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
    corpus_out = [redact(text) for text in job["corpus"]]
    n = len(job["events"])
    json.dump(
        {"events_per_s": n / wall, "events_per_cpu_s": n / cpu, "corpus_out": corpus_out},
        sys.stdout,
    )


if __name__ == "__main__":
    main()
