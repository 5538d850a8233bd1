"""`--format json`: the whole report as JSON, valid against reports/schema/report.schema.json."""

from __future__ import annotations

import json

from preflight.report import Report


class JsonReporter:
    name = "json"
    description = "machine-readable report (schema: reports/schema/report.schema.json)"

    def render(self, report: Report) -> str:
        return json.dumps(report.to_json(), indent=2, ensure_ascii=False, default=str) + "\n"
