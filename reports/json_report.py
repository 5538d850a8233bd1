"""`--format json`: the whole report as JSON, valid against reports/schema/report.schema.json."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from preflight.reporting.report import Report


class JsonReporter:
    name = "json"
    description = "machine-readable report (schema: reports/schema/report.schema.json)"

    def render(self, report: Report) -> str:
        return "".join(self.render_chunks(report))

    def render_chunks(self, report: Report) -> Iterator[str]:
        """Indented, except that each result is one compact line: readable, fast at thousands of results (json's
        C encoder is only used without indentation), and written as it goes instead of held whole in memory."""
        data = report.to_json()
        results = data.pop("results")
        head = json.dumps(data, indent=2, ensure_ascii=False, default=str)
        if not results:
            yield head[:-2] + ',\n  "results": []\n}\n'
            return
        yield head[:-2] + ',\n  "results": [\n'
        last = len(results) - 1
        for index, result in enumerate(results):
            yield "    " + json.dumps(result, ensure_ascii=False, default=str) + (",\n" if index < last else "\n")
        yield "  ]\n}\n"
