"""`--format junit`: one testcase per result (fail → failure, error → error, skip → skipped, warn → passed with
system-out), one testsuite per check, for CI systems that read JUnit XML."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import TYPE_CHECKING
from xml.etree import ElementTree

from preflight.model import CheckResult, Status
from reports.escape import xml_text

if TYPE_CHECKING:
    from preflight.reporting.report import Report


class JunitReporter:
    name = "junit"
    description = "JUnit XML: one testcase per result, one testsuite per check"

    def render(self, report: Report) -> str:
        by_check: dict[str, list[CheckResult]] = defaultdict(list)
        for result in report.results:
            by_check[result.check].append(result)
        counts = report.counts
        # No "skipped" on <testsuites>: the common junit-10 schema does not allow it there.
        root = ElementTree.Element(
            "testsuites",
            {
                "name": xml_text(f"connector-preflight {report.profile.get('name', '')}".strip()),
                "tests": str(len(report.results)),
                "failures": str(counts["fail"]),
                "errors": str(counts["error"]),
                "time": f"{report.duration_ms / 1000:.3f}",
            },
        )
        stamp = dt.datetime.fromtimestamp(report.started_at, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")
        for check, results in by_check.items():
            suite = ElementTree.SubElement(
                root,
                "testsuite",
                {
                    "name": xml_text(check),
                    "tests": str(len(results)),
                    "failures": str(sum(r.status == Status.FAIL for r in results)),
                    "errors": str(sum(r.status == Status.ERROR for r in results)),
                    "skipped": str(sum(r.status == Status.SKIP for r in results)),
                    "time": f"{sum(r.duration_ms for r in results) / 1000:.3f}",
                    "timestamp": stamp,
                    "hostname": xml_text(str(report.host.get("hostname", ""))),
                },
            )
            for result in results:
                case = ElementTree.SubElement(
                    suite,
                    "testcase",
                    {
                        "classname": xml_text(check),
                        "name": xml_text(result.target.key),
                        "time": f"{result.duration_ms / 1000:.3f}",
                    },
                )
                message = xml_text(f"{result.code}: {result.summary}")
                detail = xml_text("\n".join(x for x in (result.summary, result.remediation, result.error or "") if x))
                if result.status == Status.FAIL:
                    ElementTree.SubElement(
                        case, "failure", {"message": message, "type": xml_text(result.code)}
                    ).text = detail
                elif result.status == Status.ERROR:
                    ElementTree.SubElement(
                        case, "error", {"message": message, "type": xml_text(result.code)}
                    ).text = detail
                elif result.status == Status.SKIP:
                    ElementTree.SubElement(case, "skipped", {"message": message})
                elif result.status == Status.WARN:
                    ElementTree.SubElement(
                        case, "system-out"
                    ).text = f"WARNING {message}\n{xml_text(result.remediation)}"
        if report.diagnosis:  # the causes first, as every format gives them: a suite of their own
            suite = ElementTree.Element(
                "testsuite",
                {
                    "name": "diagnosis",
                    "tests": str(len(report.diagnosis)),
                    "failures": str(sum(c.status == Status.FAIL for c in report.diagnosis)),
                    "errors": "0",
                    "skipped": "0",
                    "time": "0.000",
                    "timestamp": stamp,
                    "hostname": xml_text(str(report.host.get("hostname", ""))),
                },
            )
            root.insert(0, suite)
            for cause in report.diagnosis:
                case = ElementTree.SubElement(
                    suite, "testcase", {"classname": "diagnosis", "name": cause.code, "time": "0.000"}
                )
                message = xml_text(f"{cause.code}: {cause.summary}")
                explains = "\n".join(cause.explains)
                detail = xml_text(f"{cause.summary}\nFix: {cause.fix}\nExplains:\n{explains}")
                if cause.status == Status.FAIL:
                    ElementTree.SubElement(case, "failure", {"message": message, "type": cause.code}).text = detail
                else:
                    ElementTree.SubElement(case, "system-out").text = f"WARNING {detail}"
        ElementTree.indent(root)
        return '<?xml version="1.0" encoding="UTF-8"?>\n' + ElementTree.tostring(root, encoding="unicode") + "\n"
